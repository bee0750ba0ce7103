package io.courier.eventbus;

import io.courier.TransportClosedException;
import io.courier.spi.ConsumerThreads;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An {@link EventBus} whose handlers run in this JVM.
 *
 * <pre>{@code
 * try (InProcessEventBus bus = InProcessEventBus.builder()
 *         .maxConcurrency(16)                           // handler calls running at once
 *         .build()) {
 *     bus.subscribe(UserCreated.class, "welcome-email", e -> mailer.sendWelcome(e.email()));
 *     bus.subscribe(UserCreated.class, "profile", e -> profiles.create(e.userId()));
 *     bus.publish(new UserCreated("123", "user@example.com"))
 *        .exceptionally(error -> { alert(error); return null; });   // returns at once
 * }
 * }</pre>
 *
 * <p><b>Modes.</b> In {@link Mode#ASYNCHRONOUS} mode (the default) {@link #publish} hands the event
 * to every matching handler on a bounded executor and returns at once: a slow handler never blocks
 * the publisher, and the handlers of one event run concurrently. The returned future completes when
 * all of them have finished; {@code publish(e).join()} therefore behaves like
 * "publish to all handlers concurrently and wait", without the usual pitfalls. In {@link Mode#SYNCHRONOUS} mode
 * the publishing thread runs the handlers itself, one after another in subscription order, and
 * {@code publish} returns an already completed future; use it when handlers must see the caller's
 * thread-bound context (a transaction, a {@link io.courier.Correlation} id) or in tests.
 *
 * <p><b>Isolation and errors.</b> Each handler call is isolated: whatever it throws, {@link Error}s
 * included, is caught and recorded, and the remaining handlers still run. When any handler fails,
 * the future completes exceptionally with an {@link EventDispatchException} listing every failure
 * (handler name, event type, error), and the {@linkplain Builder#failureListener failure listener}
 * hears it too (by default every failure is logged at WARN), so failures of fire-and-forget
 * publishes are not lost.
 *
 * <p><b>Matching.</b> An event goes to every handler whose subscribed type is its class, a
 * superclass or an interface it implements. Handlers subscribed while an event is being published
 * do not receive that event.
 *
 * <p><b>Ordering.</b> In synchronous mode a handler sees the events of one publishing thread in
 * publish order. In asynchronous mode there is no ordering: handler calls run concurrently, also for
 * consecutive events.
 *
 * <p><b>Bounds.</b> At most {@link Builder#maxConcurrency maxConcurrency} handler calls run at once
 * (on virtual threads when the runtime has them, daemon platform threads otherwise) and at most
 * {@link Builder#maxPending maxPending} are accepted but unfinished; a publish that would exceed
 * that fails at once with a {@link RejectedExecutionException} and runs no handler at all.
 *
 * <p><b>Durability.</b> None: an event lives only in memory until its handlers finish, so it is
 * lost if the process dies. Use {@link TransportEventBus} for events that must survive a crash.
 *
 * <p>Thread-safe. {@link #close()} stops accepting events, waits up to the shutdown timeout for
 * accepted events to be handled, then fails the handler calls that have not started with a
 * {@link TransportClosedException} and interrupts those still running on the bus's own threads.
 */
public final class InProcessEventBus implements EventBus {

    private static final Logger log = LoggerFactory.getLogger(InProcessEventBus.class);

    /** Default number of handler calls running at once in asynchronous mode. */
    public static final int DEFAULT_MAX_CONCURRENCY = 64;
    /** Default number of handler calls accepted but not finished, at most, in asynchronous mode. */
    public static final int DEFAULT_MAX_PENDING = 10_000;
    /** Default time {@link #close()} waits for accepted events to be handled. */
    public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    /** How {@link #publish} runs the handlers. */
    public enum Mode {
        /** The publishing thread runs the handlers one after another; publish returns when all finished. */
        SYNCHRONOUS,
        /** Handlers run concurrently on the bus's executor; publish returns at once. The default. */
        ASYNCHRONOUS
    }

    private final Mode mode;
    private final Executor executor;
    private final ExecutorService ownedExecutor;
    private final int maxPending;
    private final Semaphore pendingPermits;
    private final Duration shutdownTimeout;
    private final Consumer<? super EventDispatchException> failureListener;
    private final List<Entry> entries = new CopyOnWriteArrayList<>();
    private final Set<CompletableFuture<Void>> inFlight = ConcurrentHashMap.newKeySet();
    private final AtomicLong generatedNames = new AtomicLong();
    private final ReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private volatile boolean closed;
    private volatile boolean abandoned;

    private InProcessEventBus(Builder b) {
        this.mode = b.mode;
        this.maxPending = b.maxPending;
        this.pendingPermits = new Semaphore(b.maxPending);
        this.shutdownTimeout = b.shutdownTimeout;
        this.failureListener = b.failureListener;
        if (b.executor != null) {
            this.executor = b.executor;
            this.ownedExecutor = null;
        } else if (b.mode == Mode.ASYNCHRONOUS) {
            ThreadPoolExecutor pool = new ThreadPoolExecutor(b.maxConcurrency, b.maxConcurrency,
                    30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), ConsumerThreads.factory("courier-eventbus"));
            pool.allowCoreThreadTimeOut(true);
            this.executor = pool;
            this.ownedExecutor = pool;
        } else {
            this.executor = null;
            this.ownedExecutor = null;
        }
    }

    /** A builder starting from the defaults: asynchronous, 64 concurrent calls, 10,000 pending. */
    public static Builder builder() {
        return new Builder();
    }

    /** The mode this bus runs handlers in. */
    public Mode mode() {
        return mode;
    }

    /**
     * {@inheritDoc}
     *
     * <p>The generated name is the type's simple name followed by {@code #} and a number, e.g.
     * {@code OrderCreated#3}.
     */
    @Override
    public <E> Registration subscribe(Class<E> type, EventHandler<? super E> handler) {
        Objects.requireNonNull(type, "type");
        String base = HandlerNames.simpleName(type) + "#";
        synchronized (entries) {
            String name;
            do {
                name = base + generatedNames.incrementAndGet();
            } while (nameInUse(name));
            return subscribe(type, name, handler);
        }
    }

    @Override
    public <E> Registration subscribe(Class<E> type, String handlerName, EventHandler<? super E> handler) {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(handler, "handler");
        HandlerNames.requireValid(handlerName);
        synchronized (entries) {
            if (closed) {
                throw new TransportClosedException("event bus is closed");
            }
            if (nameInUse(handlerName)) {
                throw new IllegalArgumentException("handlerName must be unique, but '" + handlerName
                        + "' is already subscribed; pass another name");
            }
            @SuppressWarnings("unchecked")
            Entry entry = new Entry(handlerName, type, (EventHandler<Object>) handler);
            entries.add(entry);
            return entry;
        }
    }

    private boolean nameInUse(String name) {
        return entries.stream().anyMatch(e -> e.name.equals(name));
    }

    /**
     * {@inheritDoc}
     *
     * <p>On this bus the future completes when every matching handler has finished (normally, or
     * with an {@link EventDispatchException} naming each failed handler); at once when no handler
     * matches. In asynchronous mode it completes exceptionally with a
     * {@link RejectedExecutionException} when the bus already holds
     * {@link Builder#maxPending maxPending} unfinished handler calls.
     */
    @Override
    public CompletableFuture<Void> publish(Object event) {
        Objects.requireNonNull(event, "event");
        List<Entry> targets = new ArrayList<>();
        for (Entry e : entries) {
            if (e.active && e.type.isInstance(event)) {
                targets.add(e);
            }
        }
        return mode == Mode.SYNCHRONOUS ? publishSynchronously(event, targets) : publishAsynchronously(event, targets);
    }

    private CompletableFuture<Void> publishSynchronously(Object event, List<Entry> targets) {
        if (closed) {
            return CompletableFuture.failedFuture(new TransportClosedException("event bus is closed"));
        }
        List<EventDispatchException.HandlerFailure> failures = new ArrayList<>();
        boolean interrupted = false;
        for (Entry target : targets) {
            EventDispatchException.HandlerFailure failure = invoke(target, event);
            if (failure != null) {
                failures.add(failure);
                interrupted |= failure.error() instanceof InterruptedException;
            }
            // A handler that was interrupted (or reported it) must not make the next one fail
            // spuriously; the flag is restored for the caller below.
            interrupted |= Thread.interrupted();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return settle(event, targets.size(), failures);
    }

    private CompletableFuture<Void> publishAsynchronously(Object event, List<Entry> targets) {
        lifecycle.readLock().lock();
        try {
            if (closed) {
                return CompletableFuture.failedFuture(new TransportClosedException("event bus is closed"));
            }
            if (targets.isEmpty()) {
                return CompletableFuture.completedFuture(null);
            }
            if (!pendingPermits.tryAcquire(targets.size())) {
                return CompletableFuture.failedFuture(new RejectedExecutionException("event bus is full: "
                        + (maxPending - pendingPermits.availablePermits()) + " of maxPending " + maxPending
                        + " handler calls unfinished, " + targets.size() + " more needed for event "
                        + event.getClass().getName() + "; no handler was called"));
            }
            @SuppressWarnings("unchecked")
            CompletableFuture<EventDispatchException.HandlerFailure>[] calls = new CompletableFuture[targets.size()];
            for (int i = 0; i < calls.length; i++) {
                Entry target = targets.get(i);
                CompletableFuture<EventDispatchException.HandlerFailure> call = new CompletableFuture<>();
                calls[i] = call;
                try {
                    executor.execute(() -> {
                        EventDispatchException.HandlerFailure failure = null;
                        try {
                            failure = invoke(target, event);
                        } finally {
                            pendingPermits.release();
                            call.complete(failure);
                        }
                    });
                } catch (RejectedExecutionException e) {
                    pendingPermits.release();
                    call.complete(new EventDispatchException.HandlerFailure(target.name, event.getClass(), e));
                }
            }
            CompletableFuture<Void> result = new CompletableFuture<>();
            inFlight.add(result);
            result.whenComplete((ignored, error) -> inFlight.remove(result));
            CompletableFuture.allOf(calls).whenComplete((ignored, error) -> {
                List<EventDispatchException.HandlerFailure> failures = new ArrayList<>();
                for (CompletableFuture<EventDispatchException.HandlerFailure> call : calls) {
                    EventDispatchException.HandlerFailure failure = call.join();
                    if (failure != null) {
                        failures.add(failure);
                    }
                }
                settle(event, calls.length, failures).whenComplete((v, e) -> {
                    if (e == null) {
                        result.complete(null);
                    } else {
                        result.completeExceptionally(e);
                    }
                });
            });
            return result;
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    /** Runs one handler, turning anything it throws into a failure; null when it succeeded or was skipped. */
    private EventDispatchException.HandlerFailure invoke(Entry target, Object event) {
        if (abandoned) {
            return new EventDispatchException.HandlerFailure(target.name, event.getClass(),
                    new TransportClosedException("event bus closed before handler '" + target.name + "' ran"));
        }
        if (!target.active) {
            return null;   // unsubscribed after the event was accepted: skipping is what the caller asked for
        }
        try {
            target.handler.handle(event);
            return null;
        } catch (Throwable t) {
            return new EventDispatchException.HandlerFailure(target.name, event.getClass(), t);
        }
    }

    private CompletableFuture<Void> settle(Object event, int handlerCount, List<EventDispatchException.HandlerFailure> failures) {
        if (failures.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        EventDispatchException error = new EventDispatchException(event, handlerCount, failures);
        try {
            failureListener.accept(error);
        } catch (RuntimeException e) {
            log.warn("event bus failure listener threw; ignoring it", e);
        }
        return CompletableFuture.failedFuture(error);
    }

    /**
     * Stops accepting events, waits up to the shutdown timeout for accepted events to be handled,
     * then fails handler calls that have not started and interrupts the bus's own threads. Does not
     * shut down an executor passed to the builder. Idempotent.
     */
    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            synchronized (entries) {
                closed = true;
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
        try {
            CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new))
                    .get(shutdownTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            log.warn("event bus: {} event(s) still being handled after {}; abandoning them", inFlight.size(), shutdownTimeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            // handler failures were already reported through the publish futures
        }
        abandoned = true;
        for (Entry e : entries) {
            e.active = false;
        }
        entries.clear();
        if (ownedExecutor != null) {
            for (Runnable notStarted : ownedExecutor.shutdownNow()) {
                notStarted.run();   // fails fast (abandoned) and completes its publish future
            }
        }
    }

    /** A subscribed handler. */
    private final class Entry implements Registration {
        final String name;
        final Class<?> type;
        final EventHandler<Object> handler;
        volatile boolean active = true;

        Entry(String name, Class<?> type, EventHandler<Object> handler) {
            this.name = name;
            this.type = type;
            this.handler = handler;
        }

        @Override
        public String handlerName() {
            return name;
        }

        @Override
        public Class<?> eventType() {
            return type;
        }

        @Override
        public boolean isActive() {
            return active;
        }

        @Override
        public void close() {
            active = false;
            entries.remove(this);
        }

        @Override
        public String toString() {
            return "Registration{" + name + " <- " + type.getName() + (active ? "" : ", closed") + '}';
        }
    }

    /** Builds an {@link InProcessEventBus}. Not thread-safe. */
    public static final class Builder {
        private Mode mode = Mode.ASYNCHRONOUS;
        private Integer maxConcurrencyIfSet;
        private int maxConcurrency = DEFAULT_MAX_CONCURRENCY;
        private int maxPending = DEFAULT_MAX_PENDING;
        private Executor executor;
        private Duration shutdownTimeout = DEFAULT_SHUTDOWN_TIMEOUT;
        private Consumer<? super EventDispatchException> failureListener = InProcessEventBus::logFailures;

        private Builder() {
        }

        /** How publish runs handlers (default {@link Mode#ASYNCHRONOUS}). */
        public Builder mode(Mode mode) {
            this.mode = Objects.requireNonNull(mode, "mode");
            return this;
        }

        /**
         * Handler calls running at once on the bus's own executor in asynchronous mode (default
         * {@value #DEFAULT_MAX_CONCURRENCY}). Cannot be combined with {@link #executor(Executor)}.
         */
        public Builder maxConcurrency(int maxConcurrency) {
            if (maxConcurrency < 1) {
                throw new IllegalArgumentException("maxConcurrency must be >= 1, but was " + maxConcurrency);
            }
            this.maxConcurrency = maxConcurrency;
            this.maxConcurrencyIfSet = maxConcurrency;
            return this;
        }

        /**
         * Handler calls accepted but not finished (waiting or running), at most, in asynchronous mode
         * (default {@value #DEFAULT_MAX_PENDING}). A publish whose handlers do not all fit is rejected
         * as a whole.
         */
        public Builder maxPending(int maxPending) {
            if (maxPending < 1) {
                throw new IllegalArgumentException("maxPending must be >= 1, but was " + maxPending);
            }
            this.maxPending = maxPending;
            return this;
        }

        /**
         * Runs handler calls on {@code executor} instead of the bus's own bounded pool, in
         * asynchronous mode. The executor bounds concurrency itself; the bus never shuts it down.
         */
        public Builder executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /** How long {@link InProcessEventBus#close()} waits for accepted events (default 30 s). */
        public Builder shutdownTimeout(Duration shutdownTimeout) {
            Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
            if (shutdownTimeout.isNegative()) {
                throw new IllegalArgumentException("shutdownTimeout must be >= 0, but was " + shutdownTimeout);
            }
            this.shutdownTimeout = shutdownTimeout;
            return this;
        }

        /**
         * Hears every {@link EventDispatchException}, in both modes, on the thread that finished the
         * event's last handler; it must be fast and thread-safe. The default logs each failure at
         * WARN with its stack trace. Exceptions it throws are logged and ignored.
         */
        public Builder failureListener(Consumer<? super EventDispatchException> failureListener) {
            this.failureListener = Objects.requireNonNull(failureListener, "failureListener");
            return this;
        }

        /**
         * Builds the bus.
         *
         * @throws IllegalStateException if both {@link #maxConcurrency} and {@link #executor} were set,
         *                               or an executor was given in synchronous mode
         */
        public InProcessEventBus build() {
            if (executor != null && maxConcurrencyIfSet != null) {
                throw new IllegalStateException("maxConcurrency applies to the bus's own executor only; "
                        + "bound the concurrency of the executor you pass instead");
            }
            if (executor != null && mode == Mode.SYNCHRONOUS) {
                throw new IllegalStateException("an executor is used in ASYNCHRONOUS mode only, but mode is SYNCHRONOUS");
            }
            return new InProcessEventBus(this);
        }
    }

    private static void logFailures(EventDispatchException error) {
        for (EventDispatchException.HandlerFailure f : error.failures()) {
            log.warn("event {}: handler '{}' failed", f.eventType().getName(), f.handlerName(), f.error());
        }
    }
}
