package io.courier.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.SubscriptionOptions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A live subscription extends the leases of the entries it holds, so a handler slower than the lease
 * is not redelivered to another consumer of the group (with or without key ordering).
 */
class RedisLeaseExtensionTest extends RedisTestSupport {

    private static final Duration LEASE = Duration.ofSeconds(1);
    private static final Duration WAIT = Duration.ofSeconds(30);

    @Test
    void aHandlerSlowerThanTheLeaseKeepsItsEntry() throws Exception {
        slowHandlerKeepsItsEntry(transport(), transport());
    }

    @Test
    void aKeyedHandlerSlowerThanTheLeaseKeepsItsEntryAndItsKey() throws Exception {
        RedisConfig keyed = config().keyOrdering(true).build();
        slowHandlerKeepsItsEntry(transport(keyed), transport(keyed));
    }

    private void slowHandlerKeepsItsEntry(RedisStreamsTransport slowOne, RedisStreamsTransport otherOne) throws Exception {
        List<String> slow = new CopyOnWriteArrayList<>();
        List<String> other = new CopyOnWriteArrayList<>();
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        slowOne.subscriber().subscribe(SubscriptionOptions.builder("slow", "g").consumerName("slow").concurrency(1)
                .leaseTimeout(LEASE).build(), d -> {
            started.countDown();
            assertThat(finish.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            slow.add(d.message().payloadAsText());
        });
        slowOne.publisher().publish("slow", Message.builder().key("k").payload("held".getBytes()).build()).join();
        assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the slow handler started").isTrue();
        otherOne.subscriber().subscribe(SubscriptionOptions.builder("slow", "g").consumerName("other")
                .leaseTimeout(LEASE).build(), d -> other.add(d.message().payloadAsText()));

        // Four leases, with reclaims every 200 ms: an entry whose lease ran out would have been taken over.
        await("not taken over by the other consumer while the slow handler runs").during(LEASE.multipliedBy(4))
                .atMost(WAIT).until(other::isEmpty);
        finish.countDown();

        await().atMost(WAIT).until(() -> slow.size() == 1 && raw.xpending(stream("slow"), "g").getCount() == 0);
        assertThat(other).isEmpty();
    }
}
