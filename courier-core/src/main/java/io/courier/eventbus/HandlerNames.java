package io.courier.eventbus;

import java.util.Objects;

/** Validation and defaults for handler names, shared by the bus implementations. */
final class HandlerNames {

    /** Longest handler name accepted. */
    static final int MAX_LENGTH = 150;

    private HandlerNames() {
    }

    static String requireValid(String name) {
        Objects.requireNonNull(name, "handlerName");
        if (name.isBlank()) {
            throw new IllegalArgumentException("handlerName must not be blank");
        }
        if (name.length() > MAX_LENGTH) {
            throw new IllegalArgumentException("handlerName must be at most " + MAX_LENGTH
                    + " characters, but was " + name.length());
        }
        return name;
    }

    /** The class's simple name, or its full name for anonymous and synthetic classes. */
    static String simpleName(Class<?> type) {
        String simple = type.getSimpleName();
        return simple.isEmpty() ? type.getName() : simple;
    }
}
