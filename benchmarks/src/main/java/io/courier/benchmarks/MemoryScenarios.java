package io.courier.benchmarks;

import io.courier.Message;
import io.courier.Router;
import io.courier.SubscriptionOptions;
import io.courier.memory.InMemoryTransport;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The in-memory transport against a plain {@link LinkedBlockingQueue} with consumer threads: what
 * Courier's routing, leasing and settlement cost when there is no I/O at all. Also the harness's
 * own smoke test.
 */
final class MemoryScenarios {

    /**
     * Latency is measured at no more than this rate: above it, two threads publishing one message per
     * call on a busy two-core machine fall behind their schedule and the figure shows their backlog.
     */
    static final double LATENCY_RATE = 20_000;

    private MemoryScenarios() {
    }

    static List<Scenario> scenarios() {
        return List.of(new Scenario("memory-e2e-100b", "in-memory transport, 100-byte payloads, 4 consumer threads",
                "java.util.concurrent.LinkedBlockingQueue + 4 threads", 100, 2, 100,
                runId -> new CourierMemory(), runId -> new RawQueue(), LATENCY_RATE));
    }

    private static final class CourierMemory implements Pipeline {
        private final InMemoryTransport transport = InMemoryTransport.create();
        private final Router router = Router.builder(transport).build();

        @Override
        public void start(Consumer<byte[]> onMessage) {
            router.route(SubscriptionOptions.builder("bench", "g").concurrency(4).build(),
                    d -> onMessage.accept(d.message().payload())).start();
        }

        @Override
        public void publish(List<byte[]> batch) {
            List<Message> messages = new ArrayList<>(batch.size());
            for (byte[] b : batch) {
                messages.add(Message.of(b));
            }
            router.publisher().publishAll("bench", messages).join();
        }

        @Override
        public void close() {
            router.close();
            transport.close();
        }
    }

    private static final class RawQueue implements Pipeline {
        private final BlockingQueue<byte[]> queue = new LinkedBlockingQueue<>();
        private final List<Thread> threads = new ArrayList<>();
        private volatile boolean running = true;

        @Override
        public void start(Consumer<byte[]> onMessage) {
            for (int i = 0; i < 4; i++) {
                Thread t = new Thread(() -> {
                    while (running) {
                        try {
                            byte[] b = queue.poll(100, TimeUnit.MILLISECONDS);
                            if (b != null) {
                                onMessage.accept(b);
                            }
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                });
                t.setDaemon(true);
                t.start();
                threads.add(t);
            }
        }

        @Override
        public void publish(List<byte[]> batch) {
            queue.addAll(batch);
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            for (Thread t : threads) {
                t.join();
            }
        }
    }
}
