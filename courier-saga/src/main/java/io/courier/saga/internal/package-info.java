/** The saga engine and its tables; not an API. */
package io.courier.saga.internal;
