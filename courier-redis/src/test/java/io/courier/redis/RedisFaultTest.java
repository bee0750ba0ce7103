package io.courier.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.PublishResult;
import io.courier.SubscriptionOptions;
import io.lettuce.core.Consumer;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Crashes, restarts and network cuts against real Redis servers. */
class RedisFaultTest extends RedisTestSupport {

    private static final Duration WAIT = Duration.ofSeconds(60);

    @Test
    void redeliversEverythingAConsumerProcessHeldWhenItIsKilled() throws Exception {
        RedisStreamsTransport redis = transport();
        redis.subscriber().subscribe("kill", "g", d -> { }).close();   // the group exists before publishing
        int count = 8;
        for (int i = 0; i < count; i++) {
            redis.publisher().publish("kill", Message.ofText("job-" + i)).join();
        }

        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                ChildConsumerMain.class.getName(), REDIS_URI, prefix, "kill", "g", "doomed", Integer.toString(count))
                .redirectErrorStream(true).start();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread pump = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    lines.add(line);
                }
            } catch (Exception e) {
                // the child was killed
            }
        });
        pump.setDaemon(true);
        pump.start();
        try {
            Set<String> gotByChild = ConcurrentHashMap.newKeySet();
            List<String> output = new ArrayList<>();
            await().atMost(WAIT).until(() -> {
                String line;
                while ((line = lines.poll()) != null) {
                    output.add(line);
                    if (line.startsWith("GOT ")) {
                        gotByChild.add(line.substring(4));
                    }
                }
                return gotByChild.size() == count;
            });
            assertThat(raw.xpending(stream("kill"), "g").getCount()).isEqualTo(count);
        } finally {
            child.destroyForcibly();   // SIGKILL: no shutdown hook, no ack, no release
        }
        assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(child.exitValue()).isEqualTo(137);
        assertThat(raw.xpending(stream("kill"), Consumer.from("g", "doomed"), Range.create("-", "+"), Limit.from(100))).hasSize(count);

        Set<String> handled = ConcurrentHashMap.newKeySet();
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        redis.subscriber().subscribe(SubscriptionOptions.builder("kill", "g").consumerName("survivor")
                .leaseTimeout(Duration.ofSeconds(1)).build(), d -> {
            handled.add(d.message().payloadAsText());
            attempts.add(d.attempt());
        });

        await().atMost(WAIT).until(() -> handled.size() == count && raw.xpending(stream("kill"), "g").getCount() == 0);
        assertThat(attempts).containsOnly(2);
    }

    @Test
    void everyAcknowledgedPublishIsConsumedAcrossACrashAndRestartOfAnAppendOnlyRedis() throws Exception {
        try (RedisServerProcess server = new RedisServerProcess().start();
             RedisStreamsTransport redis = RedisStreamsTransport.create(config().uri(server.uri()).commandTimeout(Duration.ofSeconds(5)).build())) {
            Set<String> consumed = ConcurrentHashMap.newKeySet();
            redis.subscriber().subscribe(SubscriptionOptions.builder("durable", "g").consumerName("c1").concurrency(4)
                    .leaseTimeout(Duration.ofSeconds(2)).build(), d -> consumed.add(d.message().payloadAsText()));

            Set<String> acknowledged = ConcurrentHashMap.newKeySet();
            Set<String> refused = ConcurrentHashMap.newKeySet();
            Semaphore outstanding = new Semaphore(20);
            List<CompletableFuture<PublishResult>> all = new ArrayList<>();
            int total = 1500;
            boolean crashed = false;
            for (int i = 0; i < total; i++) {
                if (!crashed && acknowledged.size() >= 400) {
                    server.kill();        // SIGKILL under load
                    server.start();       // same port and files: replays the append-only file
                    crashed = true;
                }
                outstanding.acquire();
                String payload = "msg-" + i;
                CompletableFuture<PublishResult> f = redis.publisher().publish("durable", Message.ofText(payload));
                f.whenComplete((r, e) -> {
                    (e == null ? acknowledged : refused).add(payload);
                    outstanding.release();
                });
                all.add(f);
            }
            assertThat(crashed).isTrue();
            await().atMost(WAIT).until(() -> all.stream().allMatch(CompletableFuture::isDone));

            await().atMost(WAIT).untilAsserted(() -> assertThat(consumed).containsAll(acknowledged));
            assertThat(acknowledged.size()).isGreaterThan(total / 2);
            StatefulRedisConnection<String, String> direct = closeLater(RedisClient.create(server.uri())).connect();
            await().atMost(WAIT).until(() -> direct.sync().xpending(stream("durable"), "g").getCount() == 0);
            direct.close();
        }
    }

    @Test
    void publishersAndConsumersRecoverWhenTheConnectionIsCutAndHealed() throws Exception {
        try (TcpProxy proxy = new TcpProxy("127.0.0.1", 6379);
             RedisStreamsTransport redis = RedisStreamsTransport.create(config().uri("redis://127.0.0.1:" + proxy.port())
                     .commandTimeout(Duration.ofSeconds(8)).build())) {
            Set<String> consumed = ConcurrentHashMap.newKeySet();
            redis.subscriber().subscribe(SubscriptionOptions.builder("flaky-net", "g").leaseTimeout(Duration.ofSeconds(2)).build(),
                    d -> consumed.add(d.message().payloadAsText()));
            Set<String> acknowledged = ConcurrentHashMap.newKeySet();
            for (int i = 0; i < 50; i++) {
                redis.publisher().publish("flaky-net", Message.ofText("before-" + i)).join();
                acknowledged.add("before-" + i);
            }
            await().atMost(WAIT).until(() -> consumed.containsAll(acknowledged));

            proxy.cut();
            List<CompletableFuture<PublishResult>> during = new ArrayList<>();
            Set<String> refused = ConcurrentHashMap.newKeySet();
            for (int i = 0; i < 50; i++) {
                String payload = "during-" + i;
                CompletableFuture<PublishResult> f = redis.publisher().publish("flaky-net", Message.ofText(payload));
                f.whenComplete((r, e) -> (e == null ? acknowledged : refused).add(payload));
                during.add(f);
            }
            await().pollDelay(Duration.ofSeconds(1)).until(() -> true);   // stay cut for a while
            assertThat(during).noneMatch(CompletableFuture::isDone);      // nothing is reported published while cut
            proxy.heal();

            await().atMost(WAIT).until(() -> during.stream().allMatch(CompletableFuture::isDone));
            redis.publisher().publish("flaky-net", Message.ofText("after")).get(30, TimeUnit.SECONDS);
            acknowledged.add("after");
            await().atMost(WAIT).untilAsserted(() -> assertThat(consumed).containsAll(acknowledged));
            assertThat(refused).isEmpty();   // the cut was shorter than the command timeout: everything went through
            await().atMost(WAIT).until(() -> raw.xpending(stream("flaky-net"), "g").getCount() == 0);
        }
    }
}
