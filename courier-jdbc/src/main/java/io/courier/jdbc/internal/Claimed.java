package io.courier.jdbc.internal;

import java.util.List;

/**
 * What one claim leased, and when the group's next delivery becomes visible: read in the claim's
 * own transaction (on PostgreSQL in its request), so that a consumer whose claim was not full waits
 * exactly until then instead of a poll interval.
 *
 * @param rows          the deliveries leased, oldest first
 * @param nextVisibleAt the earliest {@code visible_at} of the group's deliveries after the claim's
 *                      time and no later than its look-ahead (epoch ms: a delayed message, a retry, or
 *                      a lease that expires), or {@link #NONE}
 */
public record Claimed(List<ClaimedRow> rows, long nextVisibleAt) {

    /** {@link #nextVisibleAt()} when nothing becomes visible within the look-ahead. */
    public static final long NONE = Long.MAX_VALUE;

    /** Nothing leased, nothing due within the look-ahead. */
    static final Claimed NOTHING = new Claimed(List.of(), NONE);
}
