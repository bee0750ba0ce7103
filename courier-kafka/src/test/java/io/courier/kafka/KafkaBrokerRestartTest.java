package io.courier.kafka;

import io.courier.testkit.KafkaBroker;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.PublishResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

class KafkaBrokerRestartTest extends KafkaTestSupport {

    /**
     * The broker is killed (SIGKILL) and started again while a publisher keeps publishing with
     * {@code acks=all} and a consumer keeps consuming: every record whose publish was acknowledged is
     * consumed.
     */
    @Test
    void everyAcknowledgedRecordIsConsumedAcrossABrokerCrash() throws Exception {
        String topic = unique("broker-crash");
        Set<String> consumed = ConcurrentHashMap.newKeySet();
        Queue<CompletableFuture<PublishResult>> publishes = new ConcurrentLinkedQueue<>();
        AtomicInteger acked = new AtomicInteger();
        try (KafkaTransport kafka = KafkaTransport.create(config().build())) {
            kafka.subscriber().subscribe(topic, unique("g"), d -> consumed.add(d.message().id()));
            AtomicBoolean stop = new AtomicBoolean();
            Thread load = new Thread(() -> {
                for (int i = 0; !stop.get() && i < 100_000; i++) {
                    CompletableFuture<PublishResult> f;
                    try {
                        f = kafka.publisher().publish(topic, Message.builder().key("k" + (i % 17)).payload(new byte[100]).build());
                    } catch (RuntimeException e) {
                        f = CompletableFuture.failedFuture(e);
                    }
                    f.thenRun(acked::incrementAndGet);
                    publishes.add(f);
                    if (i % 5 == 4) {
                        LockSupport.parkNanos(5_000_000); // about 1,000 records per second: a steady load
                    }
                }
            }, "load");
            load.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> consumed.size() > 500);

            KafkaBroker.crash();
            int ackedAtRestart = acked.get();
            await().atMost(Duration.ofSeconds(90)).until(() -> acked.get() > ackedAtRestart + 1000);
            stop.set(true);
            load.join();

            List<String> acknowledged = new ArrayList<>();
            int failed = 0;
            for (CompletableFuture<PublishResult> f : publishes) {
                try {
                    acknowledged.add(f.get(150, TimeUnit.SECONDS).messageId());
                } catch (Exception e) {
                    failed++;
                }
            }
            System.out.printf("broker crash: %d published, %d acknowledged, %d failed%n", publishes.size(), acknowledged.size(), failed);
            assertThat(acknowledged).hasSizeGreaterThan(1500);
            await().atMost(Duration.ofSeconds(90)).until(() -> consumed.containsAll(acknowledged));
        }
    }
}
