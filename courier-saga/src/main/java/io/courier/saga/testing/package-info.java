/** Help for testing sagas without sleeping. */
package io.courier.saga.testing;
