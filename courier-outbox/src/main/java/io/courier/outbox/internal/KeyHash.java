package io.courier.outbox.internal;

/** 64-bit FNV-1a hashes, for advisory lock ids; stable across processes and Java versions. */
final class KeyHash {

    private static final long OFFSET = 0xcbf29ce484222325L;
    private static final long PRIME = 0x100000001b3L;

    private KeyHash() {
    }

    /** The hash of {@code s}. */
    static long of(String s) {
        return mix(OFFSET, s);
    }

    /** Continues hash {@code seed} with the characters of {@code s}. */
    static long mix(long seed, String s) {
        long h = seed;
        for (int i = 0; i < s.length(); i++) {
            h ^= s.charAt(i);
            h *= PRIME;
        }
        return h;
    }
}
