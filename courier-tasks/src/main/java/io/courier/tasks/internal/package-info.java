/**
 * Implementation details of the task queue (queue selection, cron evaluation, task resolution).
 * Not API: anything here may change without notice.
 */
package io.courier.tasks.internal;
