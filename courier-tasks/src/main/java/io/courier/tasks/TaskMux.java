package io.courier.tasks;

import io.courier.Codec;
import io.courier.JsonCodec;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Routes tasks to handlers by type, like Asynq's {@code ServeMux}: exact types
 * ({@code "email:deliver"}) and prefixes ({@code "image:"}). An exact match wins; among prefixes
 * the longest wins. A type nobody handles fails with {@link UnknownTaskTypeException}, which
 * archives the task at once.
 *
 * <pre>{@code
 * TaskMux mux = TaskMux.builder()
 *     .use(new LoggingMiddleware())                 // outermost
 *     .handle("email:deliver", Email.class, (ctx, email) -> mailer.send(email))
 *     .handlePrefix("image:", ctx -> images.process(ctx.type(), ctx.payload()))
 *     .build();
 * TaskServer server = TaskServer.builder(store).handler(mux).build().start();
 * }</pre>
 *
 * <p>Middleware added with {@link Builder#use} wraps every handler, the first added outermost; it
 * also wraps the unknown-type failure, so logging middleware sees those too. Immutable and
 * thread-safe once built.
 */
public final class TaskMux implements TaskHandler {

    private final Map<String, TaskHandler> exact;
    private final TreeMap<String, TaskHandler> prefixes;
    private final TaskHandler unknown;

    private TaskMux(Builder b) {
        List<TaskMiddleware> chain = List.copyOf(b.middleware);
        Map<String, TaskHandler> e = new LinkedHashMap<>();
        b.exact.forEach((type, h) -> e.put(type, wrap(h, chain)));
        TreeMap<String, TaskHandler> p = new TreeMap<>();
        b.prefixes.forEach((prefix, h) -> p.put(prefix, wrap(h, chain)));
        this.exact = Collections.unmodifiableMap(e);
        this.prefixes = p;
        this.unknown = wrap(ctx -> {
            throw new UnknownTaskTypeException(ctx.type());
        }, chain);
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void handle(TaskContext context) throws Exception {
        handlerFor(context.type()).orElse(unknown).handle(context);
    }

    /** The (middleware-wrapped) handler for {@code type}, if any: the exact match, else the longest prefix. */
    public Optional<TaskHandler> handlerFor(String type) {
        TaskHandler h = exact.get(type);
        if (h != null) {
            return Optional.of(h);
        }
        // Walk prefixes <= type from the longest candidate down; the first that matches is the longest.
        for (Map.Entry<String, TaskHandler> e = prefixes.floorEntry(type); e != null; e = prefixes.lowerEntry(e.getKey())) {
            if (type.startsWith(e.getKey())) {
                return Optional.of(e.getValue());
            }
            if (e.getKey().isEmpty() || e.getKey().charAt(0) != type.charAt(0)) {
                break;
            }
        }
        return Optional.empty();
    }

    private static TaskHandler wrap(TaskHandler handler, List<TaskMiddleware> chain) {
        TaskHandler current = handler;
        for (int i = chain.size() - 1; i >= 0; i--) {
            TaskMiddleware m = chain.get(i);
            TaskHandler wrapped = m.wrap(current);
            if (wrapped == null) {
                throw new IllegalStateException("task middleware '" + m.name() + "' (position " + (i + 1) + " of "
                        + chain.size() + ") returned null from wrap(TaskHandler); it must return a handler");
            }
            current = wrapped;
        }
        return current;
    }

    /** Builds a {@link TaskMux}. Not thread-safe. */
    public static final class Builder {
        private final Map<String, TaskHandler> exact = new LinkedHashMap<>();
        private final Map<String, TaskHandler> prefixes = new LinkedHashMap<>();
        private final List<TaskMiddleware> middleware = new ArrayList<>();
        private Codec codec = JsonCodec.defaults();

        private Builder() {
        }

        /**
         * Handles tasks of exactly {@code type}.
         *
         * @throws IllegalArgumentException if {@code type} already has a handler
         */
        public Builder handle(String type, TaskHandler handler) {
            Task.requireType(type);
            Objects.requireNonNull(handler, "handler");
            if (exact.putIfAbsent(type, handler) != null) {
                throw new IllegalArgumentException("task type '" + type + "' already has a handler");
            }
            return this;
        }

        /**
         * Handles tasks of exactly {@code type}, decoding the payload with this builder's codec
         * (JSON by default) first. A payload that does not decode archives the task with the
         * decoding error as the reason.
         */
        public <T> Builder handle(String type, Class<T> payloadType, TypedTaskHandler<T> handler) {
            Objects.requireNonNull(payloadType, "payloadType");
            Objects.requireNonNull(handler, "handler");
            Codec c = codec;
            return handle(type, ctx -> handler.handle(ctx, c.decode(ctx.payload(), payloadType)));
        }

        /**
         * Handles every task whose type starts with {@code prefix} and has no exact handler; the
         * longest matching prefix wins.
         *
         * @throws IllegalArgumentException if {@code prefix} already has a handler
         */
        public Builder handlePrefix(String prefix, TaskHandler handler) {
            Task.requireType(prefix);
            Objects.requireNonNull(handler, "handler");
            if (prefixes.putIfAbsent(prefix, handler) != null) {
                throw new IllegalArgumentException("task type prefix '" + prefix + "' already has a handler");
            }
            return this;
        }

        /** Adds middleware around every handler; the first added is the outermost. */
        public Builder use(TaskMiddleware middleware) {
            this.middleware.add(Objects.requireNonNull(middleware, "middleware"));
            return this;
        }

        /** The codec typed handlers registered after this call decode with (default {@link JsonCodec#defaults()}). */
        public Builder codec(Codec codec) {
            this.codec = Objects.requireNonNull(codec, "codec");
            return this;
        }

        /**
         * Builds the mux, wrapping each handler with the middleware.
         *
         * @throws IllegalStateException if a middleware's {@code wrap} returns null
         */
        public TaskMux build() {
            return new TaskMux(this);
        }
    }
}
