package io.courier.eventbus;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The two-way mapping between event classes and the type names written in the
 * {@link io.courier.Headers#EVENT_TYPE} header. One name per class and one class per name; classes
 * never registered explicitly get their simple name on first use. Thread-safe.
 */
final class EventTypeRegistry {

    private final Map<String, Class<?>> byName = new HashMap<>();
    private final Map<Class<?>, String> byClass = new HashMap<>();

    /**
     * Maps {@code name} to {@code type}; repeating an identical mapping is allowed.
     *
     * @throws IllegalArgumentException if the name or the class is already mapped differently
     */
    synchronized void register(String name, Class<?> type) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        if (name.isBlank()) {
            throw new IllegalArgumentException("event type name must not be blank");
        }
        Class<?> existingClass = byName.get(name);
        if (existingClass != null && existingClass != type) {
            throw new IllegalArgumentException("event type name '" + name + "' is already registered for "
                    + existingClass.getName() + "; register " + type.getName() + " under another name");
        }
        String existingName = byClass.get(type);
        if (existingName != null && !existingName.equals(name)) {
            throw new IllegalArgumentException(type.getName() + " is already registered as event type '"
                    + existingName + "', cannot register it as '" + name + "' too");
        }
        byName.put(name, type);
        byClass.put(type, name);
    }

    /**
     * The name of {@code type}; registers its simple name first when it has none.
     *
     * @throws IllegalArgumentException if the simple name is already taken by another class
     */
    synchronized String nameFor(Class<?> type) {
        String name = byClass.get(type);
        if (name == null) {
            name = HandlerNames.simpleName(type);
            register(name, type);
        }
        return name;
    }

    /** The name {@code type} is registered under, if any; registers nothing. */
    synchronized Optional<String> registeredName(Class<?> type) {
        return Optional.ofNullable(byClass.get(type));
    }

    /** The class registered for {@code name}, if any. */
    synchronized Optional<Class<?>> classFor(String name) {
        return Optional.ofNullable(byName.get(name));
    }
}
