package io.courier.redis;

import java.time.Duration;
import java.util.Objects;

/**
 * How a topic's stream is trimmed as entries are added: not at all, to a maximum length
 * ({@code XADD ... MAXLEN ~ n}), or by age ({@code XADD ... MINID ~ <now - age>}).
 *
 * <p>Trimming deletes entries whether or not every consumer group has read and acknowledged them:
 * a group that lags behind by more than the retained window loses the trimmed entries (they are
 * dropped from its pending list too). Choose a window comfortably larger than the worst backlog
 * you expect, or do not trim. Approximate trimming ({@code ~}, the default) lets Redis trim whole
 * internal nodes only, which is much cheaper and may keep a few more entries than asked.
 *
 * <pre>{@code
 * StreamTrim.maxLength(1_000_000)            // keep about the newest million entries
 * StreamTrim.maxAge(Duration.ofDays(7))      // keep about a week
 * StreamTrim.maxLength(10_000).exact()       // exactly 10,000 (costlier)
 * }</pre>
 *
 * @param mode        what bounds the stream
 * @param maxLength   the length bound when {@code mode} is {@link Mode#MAX_LENGTH}, else 0
 * @param maxAge      the age bound when {@code mode} is {@link Mode#MAX_AGE}, else {@link Duration#ZERO}
 * @param approximate whether Redis may trim lazily ({@code ~}); default true
 */
public record StreamTrim(Mode mode, long maxLength, Duration maxAge, boolean approximate) {

    /** What bounds the stream. */
    public enum Mode {
        /** The stream is never trimmed. */
        NONE,
        /** At most about {@code maxLength} entries are kept ({@code MAXLEN}). */
        MAX_LENGTH,
        /** Entries older than about {@code maxAge} are removed ({@code MINID}, from the entry id's time). */
        MAX_AGE
    }

    private static final StreamTrim NONE = new StreamTrim(Mode.NONE, 0, Duration.ZERO, true);

    /** Validates the combination; messages say what was expected and what was given. */
    public StreamTrim {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(maxAge, "maxAge");
        switch (mode) {
            case NONE -> {
                if (maxLength != 0 || !maxAge.isZero()) {
                    throw new IllegalArgumentException("a NONE trim takes no bounds, but had maxLength=" + maxLength + ", maxAge=" + maxAge);
                }
            }
            case MAX_LENGTH -> {
                if (maxLength < 1) {
                    throw new IllegalArgumentException("maxLength must be >= 1, but was " + maxLength);
                }
            }
            case MAX_AGE -> {
                if (maxAge.isZero() || maxAge.isNegative()) {
                    throw new IllegalArgumentException("maxAge must be > 0, but was " + maxAge);
                }
                if (maxAge.toMillis() < 1) {
                    throw new IllegalArgumentException("maxAge must be at least 1 ms, but was " + maxAge);
                }
            }
        }
    }

    /** No trimming: the stream grows until entries are deleted by other means. The default. */
    public static StreamTrim none() {
        return NONE;
    }

    /** Keep about the newest {@code maxLength} entries ({@code MAXLEN ~}). */
    public static StreamTrim maxLength(long maxLength) {
        return new StreamTrim(Mode.MAX_LENGTH, maxLength, Duration.ZERO, true);
    }

    /** Drop entries older than about {@code maxAge} ({@code MINID ~}); needs server-generated entry ids. */
    public static StreamTrim maxAge(Duration maxAge) {
        return new StreamTrim(Mode.MAX_AGE, 0, maxAge, true);
    }

    /** The same bound, trimmed exactly ({@code =} instead of {@code ~}); costlier for Redis. */
    public StreamTrim exact() {
        return new StreamTrim(mode, maxLength, maxAge, false);
    }

    /** True unless this is {@link #none()}. */
    public boolean trims() {
        return mode != Mode.NONE;
    }
}
