package io.courier.jdbc.internal;

import io.courier.Message;

/**
 * A delivery leased to one consumer. {@code owner} and {@code attempts} together fence every later
 * update: if the lease expired and another consumer claimed the row, they no longer match and the
 * stale settlement changes nothing.
 *
 * @param messageRow the message's row id
 * @param attempts   attempts so far, this one included (1-based)
 * @param message    the message, with any headers a retry added
 * @param leaseUntil when the lease expires, epoch milliseconds
 */
public record ClaimedRow(long messageRow, int attempts, Message message, long leaseUntil) {
}
