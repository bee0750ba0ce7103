/** The outbox's implementation; not an API. */
package io.courier.outbox.internal;
