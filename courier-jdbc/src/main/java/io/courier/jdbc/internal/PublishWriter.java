package io.courier.jdbc.internal;

import io.courier.BatchPublishException;
import io.courier.PublishException;
import io.courier.PublishResult;
import io.courier.TransportClosedException;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Group commit for {@code publish}/{@code publishAll}: callers enqueue requests and get a future;
 * writer threads take whatever is queued (up to a batch size) and store it in one transaction, then
 * complete the futures. Keyed requests of one topic always use the same writer (call order); others
 * may use any writer that is free. One commit per batch instead of one per message is what makes the embedded
 * SQLite default fast; each request still succeeds or fails as a whole, and a failing request never
 * fails its neighbours (a batch that fails for a reason other than a lost connection is retried one
 * request per transaction). When the database cannot be reached, a writer's attempt takes up to the
 * connect timeout before it fails; the requests queued behind it that have waited a tenth of that
 * or more fail with it instead of starting an attempt of their own, so that no publish waits for two
 * connect timeouts in a row. Thread-safe.
 */
public final class PublishWriter implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PublishWriter.class);

    /**
     * One {@code publish} or {@code publishAll} call: stored atomically.
     *
     * @param topic    the topic
     * @param messages the messages, in order
     * @param future   completed with one result per message once committed
     * @param since    when the publish was called ({@link System#nanoTime()})
     */
    public record Request(String topic, List<OutgoingMessage> messages, CompletableFuture<List<PublishResult>> future,
                          long since) {

        /** A request made now. */
        public Request(String topic, List<OutgoingMessage> messages, CompletableFuture<List<PublishResult>> future) {
            this(topic, messages, future, System.nanoTime());
        }
    }

    private final Database db;
    private final MessageStore store;
    private final Clock clock;
    private final int batchSize;
    private final Duration enqueueTimeout;
    /** A queued request that has waited this long fails with the connection failure of the attempt before it. */
    private final long staleAfterNanos;
    private final Consumer<Set<String>> afterCommit;
    private final String target;
    private final List<BlockingQueue<Request>> queues = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    /** 1 while writer i is writing a batch. */
    private final AtomicIntegerArray writing;
    private volatile boolean closing;

    /**
     * @param batchSize      messages stored per transaction, at most (a larger publishAll gets its own)
     * @param maxPending     requests waiting to be written, at most; callers then wait
     * @param enqueueTimeout how long a caller waits for room in the queue before the publish fails
     * @param threads        writer threads
     * @param afterCommit    called with the topics of every committed batch (wakes local consumers)
     * @param target         the database, for error messages
     */
    public PublishWriter(Database db, MessageStore store, Clock clock, int batchSize, int maxPending,
                         Duration enqueueTimeout, int threads, Consumer<Set<String>> afterCommit, String target) {
        this.db = db;
        this.store = store;
        this.clock = clock;
        this.batchSize = batchSize;
        this.enqueueTimeout = enqueueTimeout;
        this.staleAfterNanos = enqueueTimeout.toNanos() / 10;
        this.afterCommit = afterCommit;
        this.target = target;
        this.writing = new AtomicIntegerArray(threads);
        for (int i = 0; i < threads; i++) {
            BlockingQueue<Request> queue = new ArrayBlockingQueue<>(Math.max(1, maxPending / threads));
            queues.add(queue);
            int index = i;
            Thread t = new Thread(() -> run(index), "courier-" + db.dialect().name() + "-publisher-" + (i + 1));
            t.setDaemon(true);
            this.threads.add(t);
            t.start();
        }
    }

    /**
     * Queues {@code request}; its future completes when it is committed or has failed. Requests with
     * keyed messages for one topic all go through one writer thread, so they are stored (and get row
     * ids) in call order: that is what per-key ordering builds on. Requests without keys have no order
     * to keep: they go to an idle writer when the topic's own is busy, so that concurrent publishers
     * to one topic commit in parallel instead of waiting for each other's commits.
     */
    public void submit(Request request) {
        if (closing) {
            throw new TransportClosedException("the " + db.dialect().name() + " transport's publisher is closed");
        }
        BlockingQueue<Request> queue = queues.get(writerFor(request));
        try {
            if (!queue.offer(request, enqueueTimeout.toNanos(), TimeUnit.NANOSECONDS)) {
                request.future().completeExceptionally(new PublishException(request.topic(),
                        "publish to topic '" + request.topic() + "' failed: " + queue.size()
                                + " publishes are already waiting for " + target
                                + " and none finished within " + enqueueTimeout + "; the database is slow or unreachable"));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            request.future().completeExceptionally(new PublishException(request.topic(),
                    "interrupted while queueing a publish to topic '" + request.topic() + "'", e));
        }
    }

    private int writerFor(Request request) {
        int home = Math.floorMod(request.topic().hashCode(), queues.size());
        if (queues.size() == 1 || hasKey(request)) {
            return home;
        }
        int best = home;
        int bestLoad = load(home);
        for (int i = 0; i < queues.size() && bestLoad > 0; i++) {
            int load = load(i);
            if (load < bestLoad) {
                best = i;
                bestLoad = load;
            }
        }
        return best;
    }

    private int load(int writer) {
        return queues.get(writer).size() + writing.get(writer);
    }

    private static boolean hasKey(Request request) {
        for (OutgoingMessage m : request.messages()) {
            if (m.message().key().isPresent()) {
                return true;
            }
        }
        return false;
    }

    private void run(int index) {
        BlockingQueue<Request> queue = queues.get(index);
        List<Request> batch = new ArrayList<>();
        while (true) {
            Request first;
            try {
                first = queue.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (first == null) {
                if (closing && queue.isEmpty()) {
                    return;
                }
                continue;
            }
            batch.clear();
            batch.add(first);
            int count = first.messages().size();
            while (count < batchSize) {
                Request next = queue.peek();
                if (next == null || count + next.messages().size() > batchSize) {
                    break;
                }
                next = queue.poll();
                if (next == null) {
                    break;
                }
                batch.add(next);
                count += next.messages().size();
            }
            writing.set(index, 1);
            try {
                Throwable connectionFailure = write(batch);
                if (connectionFailure != null) {
                    failWaiting(queue, connectionFailure);
                }
            } finally {
                writing.set(index, 0);
            }
        }
    }

    /**
     * Writes the batch and completes its futures.
     *
     * @return the failure when the database could not be reached, else null
     */
    private Throwable write(List<Request> batch) {
        try {
            Map<Request, long[]> ids = store(batch);
            Set<String> topics = new LinkedHashSet<>();
            for (Request r : batch) {
                topics.add(r.topic());
                r.future().complete(results(r, ids.get(r)));
            }
            afterCommit.accept(topics);
            return null;
        } catch (SQLException | RuntimeException e) {
            boolean unreachable = SqlErrors.isConnectionFailure(e);
            if (batch.size() > 1 && !unreachable) {
                // Something in one request broke the whole transaction: find out which, alone.
                for (Request r : batch) {
                    write(List.of(r));
                }
                return null;
            }
            for (Request r : batch) {
                r.future().completeExceptionally(failure(r, e));
            }
            return unreachable ? e : null;
        }
    }

    /**
     * The database could not be reached: fails the requests queued meanwhile that have already waited
     * a tenth of the connect timeout or more. Each would otherwise wait for a connection attempt of its
     * own, up to a whole connect timeout more. Those that just came (a quick failure, a dead pooled
     * connection that was replaced) get their attempt.
     */
    private void failWaiting(BlockingQueue<Request> queue, Throwable cause) {
        long now = System.nanoTime();
        List<Request> waited = new ArrayList<>();
        queue.removeIf(r -> now - r.since() >= staleAfterNanos && waited.add(r));
        for (Request r : waited) {
            r.future().completeExceptionally(failure(r, cause));
        }
    }

    /**
     * Stores the batch in one transaction and returns each request's row ids. One insert and one
     * fan-out per topic for the whole batch, not per request: statement preparation and the fan-out
     * join dominate when requests carry one message each.
     */
    private Map<Request, long[]> store(List<Request> batch) throws SQLException {
        Map<String, List<Request>> byTopic = new LinkedHashMap<>();
        for (Request r : batch) {
            byTopic.computeIfAbsent(r.topic(), k -> new ArrayList<>()).add(r);
        }
        if (byTopic.size() == 1) {
            // The common case, one topic: the dialect may store it in a single request.
            Map.Entry<String, List<Request>> only = byTopic.entrySet().iterator().next();
            long[] ids = store.publishInOwnTransaction(db, only.getKey(), messagesOf(only.getValue()), clock);
            return split(only.getValue(), ids);
        }
        return db.inTransaction(c -> {
            long now = clock.millis();
            Map<Request, long[]> result = new IdentityHashMap<>();
            for (Map.Entry<String, List<Request>> e : byTopic.entrySet()) {
                long[] ids = store.publish(c, e.getKey(), messagesOf(e.getValue()), now);
                result.putAll(split(e.getValue(), ids));
            }
            return result;
        });
    }

    private static List<OutgoingMessage> messagesOf(List<Request> requests) {
        if (requests.size() == 1) {
            return requests.get(0).messages();
        }
        List<OutgoingMessage> all = new ArrayList<>();
        for (Request r : requests) {
            all.addAll(r.messages());
        }
        return all;
    }

    /** Hands each request its part of {@code ids}, which follow the requests' messages in order. */
    private static Map<Request, long[]> split(List<Request> requests, long[] ids) {
        Map<Request, long[]> result = new IdentityHashMap<>();
        int from = 0;
        for (Request r : requests) {
            result.put(r, Arrays.copyOfRange(ids, from, from + r.messages().size()));
            from += r.messages().size();
        }
        return result;
    }

    private static List<PublishResult> results(Request r, long[] ids) {
        List<PublishResult> results = new ArrayList<>(ids.length);
        for (int i = 0; i < ids.length; i++) {
            results.add(PublishResult.of(r.messages().get(i).message().id(), r.topic(), Long.toString(ids[i])));
        }
        return results;
    }

    private PublishException failure(Request r, Throwable e) {
        PublishException cause = new PublishException(r.topic(), SqlErrors.translate(
                "publishing " + r.messages().size() + " message(s) to topic '" + r.topic() + "'", target, e).getMessage(), e);
        if (r.messages().size() == 1) {
            return cause;
        }
        List<BatchPublishException.Outcome> outcomes = new ArrayList<>();
        for (OutgoingMessage m : r.messages()) {
            outcomes.add(BatchPublishException.Outcome.failed(m.message().id(), cause));
        }
        return new BatchPublishException(r.topic(), outcomes);
    }

    /**
     * Stops accepting requests, writes those already queued, and waits up to {@code timeout} for the
     * writers; requests still queued after that fail.
     */
    public void close(Duration timeout) {
        closing = true;
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Thread t : threads) {
            try {
                t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        for (BlockingQueue<Request> queue : queues) {
            Request r;
            while ((r = queue.poll()) != null) {
                r.future().completeExceptionally(new PublishException(r.topic(),
                        "the transport closed before the publish to topic '" + r.topic() + "' was written"));
            }
        }
        for (Thread t : threads) {
            t.interrupt();
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }
}
