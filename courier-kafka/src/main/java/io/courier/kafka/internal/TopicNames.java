package io.courier.kafka.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Kafka topic name rules and the names of the topics Courier derives from a topic and group. */
public final class TopicNames {

    /** Kafka's limit on topic name length. */
    public static final int MAX_LENGTH = 249;

    private TopicNames() {
    }

    /**
     * Throws {@link IllegalArgumentException} unless {@code topic} is a legal Kafka topic name:
     * letters, digits, '.', '_' and '-', at most 249 characters, not "." or "..".
     */
    public static void requireLegal(String topic) {
        if (topic == null || topic.isEmpty()) {
            throw new IllegalArgumentException("topic must not be blank, but was '" + topic + "'");
        }
        if (topic.equals(".") || topic.equals("..")) {
            throw new IllegalArgumentException("topic must not be '.' or '..', but was '" + topic + "'");
        }
        if (topic.length() > MAX_LENGTH) {
            throw new IllegalArgumentException("Kafka topic names must be at most " + MAX_LENGTH + " characters, but '"
                    + topic + "' has " + topic.length());
        }
        for (int i = 0; i < topic.length(); i++) {
            if (!legal(topic.charAt(i))) {
                throw new IllegalArgumentException("Kafka topic names may contain only ASCII letters, digits, '.', '_' and '-', but '"
                        + topic + "' contains '" + topic.charAt(i) + "'");
            }
        }
    }

    /** The topic where {@code group}'s retries of {@code topic} come back: {@code <topic>.<group>.retry}. */
    public static String retryTopic(String topic, String group) {
        return fit(topic + "." + sanitize(group) + ".retry", topic + "|" + group);
    }

    /** The dead-letter topic of {@code topic}: {@code <topic>.dlq}, as the dead-letter middleware names it. */
    public static String deadLetterTopic(String topic) {
        return fit(topic + ".dlq", topic);
    }

    private static boolean legal(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    }

    private static String sanitize(String name) {
        StringBuilder b = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            b.append(legal(c) ? c : '_');
        }
        return b.toString();
    }

    /** Shortens an over-long name, keeping it unique with a hash of what it was derived from. */
    private static String fit(String name, String derivedFrom) {
        if (name.length() <= MAX_LENGTH) {
            return name;
        }
        String hash = sha256(derivedFrom).substring(0, 16);
        int dot = name.lastIndexOf('.');
        String suffix = "." + hash + name.substring(dot);
        return name.substring(0, MAX_LENGTH - suffix.length()) + suffix;
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
