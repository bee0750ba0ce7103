package io.courier.redis.internal;

import java.nio.charset.StandardCharsets;

/**
 * Names of the Redis keys behind a topic. The topic sits in a hash tag ({@code {topic}}) so that a
 * topic's stream, its delayed set and its retry keys share one cluster slot and one Lua script may
 * touch them all; the group name comes last so no two names collide.
 *
 * <pre>
 *   prefix{topic}                      the topic's stream
 *   prefix{topic}:delayed              sorted set of delayed messages, scored by due time (ms)
 *   prefix{topic}:retry-due:group      sorted set of one group's scheduled retries
 *   prefix{topic}:retry:group          stream of one group's due retries (read by that group only)
 *   prefix{topic}:key:N:group:KEY      with key ordering: list of the tags of one group's delivered,
 *                                      unsettled entries with message key KEY, in delivery order
 *                                      (N = length of the group name, so no two names collide)
 * </pre>
 */
public final class Keys {

    private final String prefix;

    /** Keys under {@code prefix}. */
    public Keys(String prefix) {
        this.prefix = prefix;
    }

    /** Throws when a topic cannot be used as a Redis key part. */
    public static void checkTopic(String topic) {
        if (topic.indexOf('{') >= 0 || topic.indexOf('}') >= 0) {
            throw new IllegalArgumentException("a Redis topic must not contain '{' or '}', but was '" + topic + "'");
        }
    }

    /** The stream of {@code topic}, as text. */
    public String streamName(String topic) {
        return prefix + "{" + topic + "}";
    }

    /** The stream of {@code topic}. */
    public byte[] stream(String topic) {
        return bytes(streamName(topic));
    }

    /** The sorted set of delayed messages of {@code topic}. */
    public byte[] delayed(String topic) {
        return bytes(streamName(topic) + ":delayed");
    }

    /** The sorted set of scheduled retries of {@code group} on {@code topic}. */
    public byte[] retryDue(String topic, String group) {
        return bytes(streamName(topic) + ":retry-due:" + group);
    }

    /** The stream of due retries of {@code group} on {@code topic}. */
    public byte[] retryStream(String topic, String group) {
        return bytes(streamName(topic) + ":retry:" + group);
    }

    /**
     * The prefix of the per-key lists of {@code group} on {@code topic} (key ordering); the list of a
     * message key is this prefix followed by the key's bytes.
     */
    public byte[] keyListPrefix(String topic, String group) {
        return bytes(streamName(topic) + ":key:" + bytes(group).length + ":" + group + ":");
    }

    /** The dead-letter topic of {@code topic}: {@code <topic>.dlq}. */
    public static String deadLetterTopic(String topic) {
        return topic + ".dlq";
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
