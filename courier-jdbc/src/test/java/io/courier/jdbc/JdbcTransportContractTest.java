package io.courier.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.BatchPublishException;
import io.courier.Delivery;
import io.courier.Message;
import io.courier.MessageOrdering;
import io.courier.MessageTooLargeException;
import io.courier.PublishResult;
import io.courier.StartPosition;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.TransportClosedException;
import io.courier.TransportOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Behaviour both databases must show. Subclasses provide a fresh, empty database per test through
 * {@link #builder()}; transports opened with {@link #open} are closed after each test.
 */
abstract class JdbcTransportContractTest {

    private final List<JdbcTransport> opened = new ArrayList<>();

    /** A builder over this test's database; every call must reach the same database. */
    protected abstract JdbcTransport.Builder builder();

    /** A plain JDBC connection to this test's database, with no transport involved. */
    protected abstract Connection rawConnection() throws Exception;

    protected JdbcTransport open() {
        return open(b -> b);
    }

    protected JdbcTransport open(UnaryOperator<JdbcTransport.Builder> customize) {
        JdbcTransport t = customize.apply(builder().cleanupInterval(Duration.ofHours(1))).build();
        opened.add(t);
        return t;
    }

    @AfterEach
    void closeTransports() {
        opened.forEach(JdbcTransport::close);
    }

    static SubscriptionOptions.Builder options(String topic, String group) {
        return SubscriptionOptions.builder(topic, group)
                .failureRedeliveryDelay(Duration.ofMillis(50))
                .shutdownTimeout(Duration.ofSeconds(5));
    }

    @Test
    void deliversMessagesWithIdKeyHeadersPayloadAndTimestampIntact() {
        JdbcTransport t = open();
        Recorder r = new Recorder();
        t.subscriber().subscribe(options("orders", "billing").build(), r);
        Message sent = Message.builder().id("m-1").key("order-7").header("content-type", "text/plain")
                .header("ce-type", "order.created").payload("hello".getBytes())
                .timestamp(Instant.parse("2024-05-06T07:08:09.123456789Z")).build();

        PublishResult result = t.publisher().publish("orders", sent).join();

        assertThat(result.messageId()).isEqualTo("m-1");
        assertThat(result.topic()).isEqualTo("orders");
        assertThat(result.position()).isPresent();
        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 1);
        Delivery d = r.deliveries.get(0);
        assertThat(d.message()).isEqualTo(sent);
        assertThat(d.topic()).isEqualTo("orders");
        assertThat(d.group()).isEqualTo("billing");
        assertThat(d.attempt()).isEqualTo(1);
    }

    @Test
    void batchesOfEverySizeArriveWholeInOrderWithTheirOwnIdsAndPositions() {
        // Sizes that split into several statement shapes (full chunks, power-of-two rests) and claims
        // that are not powers of two: a row paired with the wrong id, or a claim that loses or repeats a
        // row, shows up here.
        JdbcTransport t = open(b -> b.claimBatchSize(23));
        Recorder r = new Recorder();
        t.subscriber().subscribe(options("sizes", "g").concurrency(1).build(), r);
        List<String> sent = new ArrayList<>();
        for (int size : new int[] {1, 3, 37, 50, 63, 64, 137, 501}) {
            List<Message> batch = new ArrayList<>();
            for (int i = 0; i < size; i++) {
                String id = "s" + size + "-" + i;
                batch.add(Message.builder().id(id).payload(id.getBytes()).build());
                sent.add(id);
            }
            List<PublishResult> results = t.publisher().publishAll("sizes", batch).join();
            assertThat(results).extracting(PublishResult::messageId)
                    .containsExactlyElementsOf(batch.stream().map(Message::id).toList());
            List<Long> positions = results.stream().map(p -> Long.parseLong(p.position().orElseThrow())).toList();
            assertThat(positions).isSorted().doesNotHaveDuplicates();
        }

        await().atMost(Duration.ofSeconds(20)).until(() -> r.count() >= sent.size());
        assertThat(r.deliveries).extracting(d -> d.message().id()).containsExactlyElementsOf(sent);
        assertThat(r.texts()).containsExactlyElementsOf(sent);
    }

    @Test
    void everyGroupReceivesEveryMessageAndConsumersOfOneGroupShareThem() {
        JdbcTransport a = open();
        JdbcTransport b = open();
        Map<String, AtomicInteger> billing = new ConcurrentHashMap<>();
        Recorder shipping = new Recorder();
        Set<String> consumersUsed = ConcurrentHashMap.newKeySet();
        // a holds its first messages until b has handled one: otherwise a may claim the whole backlog
        // before b's first poll, and "consumers of one group share the messages" would go unproven.
        java.util.concurrent.CountDownLatch bHandledOne = new java.util.concurrent.CountDownLatch(1);
        a.subscriber().subscribe(options("orders", "billing").concurrency(2).build(), d -> {
            if (!bHandledOne.await(20, java.util.concurrent.TimeUnit.SECONDS)) {
                throw new IllegalStateException("consumer b received nothing while a was blocked");
            }
            consumersUsed.add("a");
            billing.computeIfAbsent(d.message().payloadAsText(), k -> new AtomicInteger()).incrementAndGet();
        });
        b.subscriber().subscribe(options("orders", "billing").concurrency(2).build(), d -> {
            consumersUsed.add("b");
            bHandledOne.countDown();
            billing.computeIfAbsent(d.message().payloadAsText(), k -> new AtomicInteger()).incrementAndGet();
        });
        a.subscriber().subscribe(options("orders", "shipping").build(), shipping);

        List<Message> batch = IntStream.range(0, 500).mapToObj(i -> Message.ofText("o" + i)).toList();
        for (int i = 0; i < 500; i += 50) {
            a.publisher().publishAll("orders", batch.subList(i, i + 50)).join();
        }

        await().atMost(Duration.ofSeconds(20)).until(() -> billing.size() == 500 && shipping.count() == 500);
        assertThat(billing.values()).allMatch(n -> n.get() == 1);
        assertThat(shipping.texts()).doesNotHaveDuplicates();
        assertThat(consumersUsed).containsExactlyInAnyOrder("a", "b");
    }

    @Test
    void newGroupStartingEarliestReceivesRetainedMessagesAndLatestDoesNot() {
        JdbcTransport t = open();
        t.publisher().publish("events", Message.ofText("before")).join();
        Recorder earliest = new Recorder();
        Recorder latest = new Recorder();
        t.subscriber().subscribe(options("events", "early").startPosition(StartPosition.EARLIEST).build(), earliest);
        t.subscriber().subscribe(options("events", "late").startPosition(StartPosition.LATEST).build(), latest);

        t.publisher().publish("events", Message.ofText("after")).join();

        await().atMost(Duration.ofSeconds(10)).until(() -> earliest.count() == 2 && latest.count() == 1);
        assertThat(earliest.texts()).containsExactlyInAnyOrder("before", "after");
        assertThat(latest.texts()).containsExactly("after");
    }

    /**
     * A handler that runs for several lease timeouts keeps its message: its subscription extends the
     * lease while it runs, so a second consumer of the group never gets a copy, and the one attempt
     * is acknowledged. (A consumer that dies stops extending; the SIGKILL tests show its messages
     * come back after one lease timeout.)
     */
    @Test
    void aHandlerSlowerThanTheLeaseKeepsItsMessageWhileItRuns() throws Exception {
        JdbcTransport slow = open();
        JdbcTransport other = open(b -> b.pollInterval(Duration.ofMillis(50)));
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger started = new AtomicInteger();
        List<Integer> finishedAttempts = new java.util.concurrent.CopyOnWriteArrayList<>();
        Duration lease = SubscriptionOptions.MIN_LEASE_TIMEOUT;
        slow.subscriber().subscribe(options("jobs", "workers").concurrency(1).leaseTimeout(lease).build(), d -> {
            started.incrementAndGet();
            release.await();
            finishedAttempts.add(d.attempt());
        });
        slow.publisher().publish("jobs", Message.ofText("long job")).join();
        await().atMost(Duration.ofSeconds(10)).until(() -> started.get() == 1);

        Recorder r = new Recorder();
        other.subscriber().subscribe(options("jobs", "workers").leaseTimeout(lease).build(), r);
        // Five lease timeouts: without extension the message would be visible again after one.
        await().during(lease.multipliedBy(5)).atMost(lease.multipliedBy(8)).until(() -> r.count() == 0);

        release.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> finishedAttempts.size() == 1);
        assertThat(finishedAttempts).containsExactly(1);
        await().atMost(Duration.ofSeconds(10)).until(() -> countRows(slow, "deliveries") == 0);
        assertThat(r.count()).isZero();
        assertThat(started.get()).isEqualTo(1);
    }

    @Test
    void failedHandlerIsRedeliveredAfterTheFailureDelayWithTheAttemptCounted() {
        JdbcTransport t = open();
        List<Integer> attempts = new java.util.concurrent.CopyOnWriteArrayList<>();
        t.subscriber().subscribe(options("jobs", "workers").build(), d -> {
            attempts.add(d.attempt());
            if (d.attempt() < 3) {
                throw new IllegalStateException("boom " + d.attempt());
            }
        });
        t.publisher().publish("jobs", Message.ofText("flaky")).join();

        await().atMost(Duration.ofSeconds(10)).until(() -> attempts.size() == 3);
        assertThat(attempts).containsExactly(1, 2, 3);
    }

    @Test
    void retryAfterRedeliversLaterWithTheAddedHeaders() {
        JdbcTransport t = open();
        Recorder r = new Recorder();
        t.subscriber().subscribe(options("jobs", "workers").build(), d -> {
            r.handle(d);
            if (d.attempt() == 1) {
                d.retryAfter(Duration.ofMillis(200), Map.of("x-retry", "1"));
            }
        });
        t.publisher().publish("jobs", Message.builder().header("keep", "me").payload("p".getBytes()).build()).join();

        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 2);
        Delivery second = r.deliveries.get(1);
        assertThat(second.attempt()).isEqualTo(2);
        assertThat(second.message().headers()).containsEntry("x-retry", "1").containsEntry("keep", "me");
        assertThat(second.message().id()).isEqualTo(r.deliveries.get(0).message().id());
    }

    /**
     * With a poll interval far longer than the test, only claims that follow the subscription's own
     * settlements can deliver these: the next message of a key, claimable once the one before it is
     * acknowledged, a message retried without delay, and one whose handler failed. A consumer that
     * wrote such settlements without claiming after them would leave the messages for the next poll.
     */
    @Test
    void settlementsThatMakeMessagesClaimableAreFollowedByAClaim() {
        JdbcTransport t = open(b -> b.pollInterval(Duration.ofMinutes(5)));
        Recorder r = new Recorder();
        t.subscriber().subscribe(options("chain", "g").concurrency(1).build(), d -> {
            r.handle(d);
            String text = d.message().payloadAsText();
            if (text.equals("retry") && d.attempt() == 1) {
                d.retryAfter(Duration.ZERO, Map.of());
            } else if (text.equals("fail") && d.attempt() == 1) {
                throw new IllegalStateException("first attempt fails");
            }
        });

        t.publisher().publishAll("chain", List.of(
                Message.builder().key("k").payload("first".getBytes()).build(),
                Message.builder().key("k").payload("second".getBytes()).build(),
                Message.builder().key("k").payload("third".getBytes()).build())).join();
        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 3);
        t.publisher().publish("chain", Message.ofText("retry")).join();
        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 5);
        t.publisher().publish("chain", Message.ofText("fail")).join();
        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 7);

        assertThat(r.texts()).containsExactly("first", "second", "third", "retry", "retry", "fail", "fail");
    }

    @Test
    void aLongDelayDoesNotHoldBackAShortOne() {
        JdbcTransport t = open();
        Recorder r = new Recorder();
        t.subscriber().subscribe(options("reminders", "mailer").build(), r);
        Instant start = Instant.now();

        t.publisher().publishAfter("reminders", Message.ofText("in ten minutes"), Duration.ofMinutes(10)).join();
        t.publisher().publishAfter("reminders", Message.ofText("in 300 ms"), Duration.ofMillis(300)).join();
        t.publisher().publish("reminders", Message.ofText("now")).join();

        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 2);
        assertThat(r.texts()).containsExactly("now", "in 300 ms");
        Delivery delayed = r.deliveries.get(1);
        assertThat(delayed.message().payloadAsText()).isEqualTo("in 300 ms");
        assertThat(Duration.between(start, Instant.now())).isGreaterThanOrEqualTo(Duration.ofMillis(300));
    }

    /**
     * With a 5 s poll interval, delayed messages due 300 ms apart each arrive within 500 ms of their due
     * time (never before it), also behind a message delayed by a minute. A consumer whose wait after
     * taking the first ignored the second one's due time waited out the poll interval: 4.7 s late.
     */
    @Test
    void delayedMessagesArriveOnTimeWhateverThePollInterval() {
        JdbcTransport t = open(b -> b.pollInterval(Duration.ofSeconds(5)));
        assertDelayedMessagesOnTime(t, t, "punctual");
    }

    /**
     * As {@link #delayedMessagesArriveOnTimeWhateverThePollInterval()}, published through another
     * transport over the same database (as another process would), so no in-process wake-up helps. The
     * consumer learns of them at its next look at the table (a notification on PostgreSQL, the poll
     * interval on SQLite), so the first is published a poll interval ahead of its time.
     */
    @Test
    void delayedMessagesFromAnotherPublisherArriveOnTime() {
        Duration poll = Duration.ofSeconds(2);
        JdbcTransport consumer = open(b -> b.pollInterval(poll));
        JdbcTransport publisher = open(b -> b.pollInterval(poll));
        assertDelayedMessagesOnTime(consumer, publisher, "elsewhere");
    }

    private static void assertDelayedMessagesOnTime(JdbcTransport consumer, JdbcTransport publisher, String topic) {
        Map<String, Instant> receivedAt = new ConcurrentHashMap<>();
        consumer.subscriber().subscribe(options(topic, "g").build(),
                d -> receivedAt.put(d.message().payloadAsText(), Instant.now()));
        Map<String, Instant> due = new LinkedHashMap<>();
        for (long millis : new long[] {60_000, 2_500, 2_800}) {
            Instant at = Instant.now().plusMillis(millis);
            publisher.publisher().publishAt(topic, Message.ofText("after " + millis + " ms"), at).join();
            due.put("after " + millis + " ms", at);
        }
        due.remove("after 60000 ms");

        await().atMost(Duration.ofSeconds(15)).until(() -> receivedAt.keySet().containsAll(due.keySet()));
        due.forEach((text, at) -> {
            System.out.printf("%s (%s): '%s' arrived %d ms after it was due%n", topic, consumer.name(), text,
                    Duration.between(at, receivedAt.get(text)).toMillis());
            assertThat(receivedAt.get(text)).as("'%s' received at (due %s)", text, at)
                    .isAfterOrEqualTo(at.minusMillis(5))
                    .isBeforeOrEqualTo(at.plusMillis(500));
        });
        assertThat(receivedAt).as("received, the minute's delay included").hasSize(2);
    }

    @Test
    void transactionalPublishExistsIfAndOnlyIfTheTransactionCommits() throws Exception {
        JdbcTransport t = open();
        Recorder r = new Recorder();
        t.subscriber().subscribe(options("outbox", "relay").build(), r);
        JdbcPublisher outbox = t.transactionalPublisher();

        try (Connection tx = t.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            outbox.publish(tx, "outbox", Message.ofText("rolled back"));
            tx.rollback();
            outbox.publishAll(tx, "outbox", List.of(Message.ofText("committed 1"), Message.ofText("committed 2")));
            tx.commit();
            tx.setAutoCommit(true);
        }

        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 2);
        assertThat(r.texts()).containsExactlyInAnyOrder("committed 1", "committed 2");
        assertThat(countRows(t, "messages")).isEqualTo(2);
    }

    @Test
    void idempotentHandlerRollsBackItsWritesWithTheClaimAndRunsOnceOnRedelivery() throws Exception {
        JdbcTransport t = open();
        try (Connection c = t.dataSource().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE ledger (message_id TEXT NOT NULL, amount INTEGER NOT NULL)");
        }
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch firstFailed = new CountDownLatch(1);
        JdbcIdempotentHandler handler = JdbcIdempotentHandler.of(t, (d, tx) -> {
            runs.incrementAndGet();
            try (PreparedStatement ps = tx.prepareStatement("INSERT INTO ledger (message_id, amount) VALUES (?, 10)")) {
                ps.setString(1, d.message().id());
                ps.executeUpdate();
            }
            if (d.attempt() == 1) {
                firstFailed.countDown();
                throw new IllegalStateException("crash after the write");
            }
        });
        Recorder after = new Recorder();
        t.subscriber().subscribe(options("payments", "ledger").build(), d -> {
            handler.handle(d);
            after.handle(d);
        });
        Message payment = Message.builder().id("pay-1").payload("10".getBytes()).build();

        t.publisher().publish("payments", payment).join();
        await().atMost(Duration.ofSeconds(10)).until(() -> after.count() == 1);

        assertThat(runs.get()).isEqualTo(2);
        assertThat(after.deliveries.get(0).attempt()).isEqualTo(2);
        assertThat(countRows(t, "ledger", false)).isEqualTo(1);
        assertThat(countRows(t, "processed")).isEqualTo(1);

        // The same message again (a duplicate publish): acknowledged without running the handler.
        t.publisher().publish("payments", payment).join();
        await().atMost(Duration.ofSeconds(10)).until(() -> after.count() == 2);
        assertThat(runs.get()).isEqualTo(2);
        assertThat(countRows(t, "ledger", false)).isEqualTo(1);
    }

    @Test
    void idempotentHandlerClaimsPerGroupAndTopicSoOneIdOnTwoTopicsRunsBoth() throws Exception {
        JdbcTransport t = open();
        List<String> handled = new java.util.concurrent.CopyOnWriteArrayList<>();
        JdbcIdempotentHandler handler = JdbcIdempotentHandler.of(t, (d, tx) -> handled.add(d.topic()));
        Message m = Message.builder().id("same-id").payload(new byte[0]).build();

        handler.handle(new io.courier.spi.BasicDelivery(m, "orders", "audit", 1));
        handler.handle(new io.courier.spi.BasicDelivery(m, "refunds", "audit", 1));
        handler.handle(new io.courier.spi.BasicDelivery(m, "refunds", "audit", 2));   // a real duplicate
        handler.handle(new io.courier.spi.BasicDelivery(m, "refunds", "billing", 1));

        assertThat(handled).containsExactly("orders", "refunds", "refunds");
        // The custom scope is kept: scoped by group only, the second topic is skipped.
        List<String> byGroup = new java.util.concurrent.CopyOnWriteArrayList<>();
        JdbcIdempotentHandler groupOnly = JdbcIdempotentHandler.of(t, (d, tx) -> byGroup.add(d.topic()), d -> "g/" + d.group());
        groupOnly.handle(new io.courier.spi.BasicDelivery(m, "orders", "audit", 1));
        groupOnly.handle(new io.courier.spi.BasicDelivery(m, "refunds", "audit", 1));
        assertThat(byGroup).containsExactly("orders");
    }

    @Test
    void idempotentHandlerRunsOnceForConcurrentDuplicateDeliveries() throws Exception {
        JdbcTransport t = open(b -> b.busyTimeout(Duration.ofSeconds(20)));
        try (Connection c = t.dataSource().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE effects (message_id TEXT NOT NULL)");
        }
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch proceed = new CountDownLatch(1);
        JdbcIdempotentHandler handler = JdbcIdempotentHandler.of(t, (d, tx) -> {
            runs.incrementAndGet();
            try (PreparedStatement ps = tx.prepareStatement("INSERT INTO effects (message_id) VALUES (?)")) {
                ps.setString(1, d.message().id());
                ps.executeUpdate();
            }
            inside.countDown();
            proceed.await(10, TimeUnit.SECONDS);
        });
        Message m = Message.builder().id("dup-1").payload(new byte[0]).build();
        List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        Runnable deliver = () -> {
            try {
                handler.handle(new io.courier.spi.BasicDelivery(m, "t", "g", 1));
            } catch (Throwable e) {
                errors.add(e);
            }
        };
        Thread first = new Thread(deliver);
        first.start();
        assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
        Thread second = new Thread(deliver);
        second.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> second.getState() != Thread.State.NEW);
        proceed.countDown();
        first.join(20_000);
        second.join(20_000);

        assertThat(errors).isEmpty();
        assertThat(runs.get()).isEqualTo(1);
        assertThat(countRows(t, "effects", false)).isEqualTo(1);
    }

    @Test
    void closeFinishesTheHandlerInFlightAndReleasesPrefetchedMessagesWithoutCountingAnAttempt() throws Exception {
        JdbcTransport t = open();
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Recorder first = new Recorder();
        Subscription s = t.subscriber().subscribe(options("jobs", "workers").concurrency(1).maxInFlight(10).build(), d -> {
            first.handle(d);
            entered.countDown();
            release.await();
        });
        t.publisher().publishAll("jobs", IntStream.range(0, 5).mapToObj(i -> Message.ofText("j" + i)).toList()).join();
        assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();

        Thread closer = new Thread(s::close);
        closer.start();
        await().atMost(Duration.ofSeconds(5)).until(() -> !s.isRunning());
        release.countDown();
        closer.join(10_000);
        assertThat(closer.isAlive()).isFalse();

        Recorder rest = new Recorder();
        t.subscriber().subscribe(options("jobs", "workers").build(), rest);
        await().atMost(Duration.ofSeconds(10)).until(() -> rest.count() == 4);
        assertThat(first.count()).isEqualTo(1);
        assertThat(rest.texts()).doesNotContain(first.texts().get(0));
        assertThat(rest.deliveries).allMatch(d -> d.attempt() == 1);
    }

    @Test
    void publishAllStoresEveryMessageAndReportsResultsInOrder() {
        JdbcTransport t = open();
        List<Message> messages = IntStream.range(0, 1200).mapToObj(i -> Message.ofText("m" + i)).toList();

        List<PublishResult> results = t.publisher().publishAll("bulk", messages).join();

        assertThat(results).extracting(PublishResult::messageId).containsExactlyElementsOf(
                messages.stream().map(Message::id).toList());
        assertThat(countRows(t, "messages")).isEqualTo(1200);
    }

    @Test
    void refusesOversizePayloadsAndPublishingAfterClose() {
        JdbcTransport t = open(b -> b.maxPayloadBytes(10));
        assertThatThrownBy(() -> t.publisher().publish("x", Message.of(new byte[11])))
                .isInstanceOf(MessageTooLargeException.class)
                .hasMessageContaining("11 bytes, over the limit of 10 bytes");
        t.close();
        assertThatThrownBy(() -> t.publisher().publish("x", Message.ofText("late")))
                .isInstanceOf(TransportClosedException.class);
        assertThatThrownBy(() -> t.subscriber().subscribe("x", "g", d -> { }))
                .isInstanceOf(TransportClosedException.class);
    }

    /** The largest payload limit the builder accepts is one the database really carries. */
    @Test
    void aPayloadOfTheLargestAcceptedLimitIsStoredAndDelivered() {
        JdbcTransport t = open(b -> b.maxPayloadBytes(JdbcTransport.MAX_PAYLOAD_BYTES_LIMIT).claimBatchSize(1));
        byte[] payload = new byte[JdbcTransport.MAX_PAYLOAD_BYTES_LIMIT];
        new java.util.Random(7).nextBytes(payload);
        Recorder r = new Recorder();
        t.subscriber().subscribe(options("big", "g").concurrency(1).build(), r);

        t.publisher().publish("big", Message.of(payload)).join();

        await().atMost(Duration.ofSeconds(30)).until(() -> r.count() == 1);
        assertThat(r.deliveries.get(0).message().payload()).isEqualTo(payload);
        assertThatThrownBy(() -> t.publisher().publish("big", Message.of(new byte[JdbcTransport.MAX_PAYLOAD_BYTES_LIMIT + 1])))
                .isInstanceOf(MessageTooLargeException.class);
    }

    @Test
    void cleanupDeletesHandledMessagesAfterRetentionButKeepsUnhandledOnes() {
        JdbcTransport t = open(b -> b.retention(Duration.ZERO));
        Recorder fast = new Recorder();
        t.subscriber().subscribe(options("events", "fast").build(), fast);
        // A group that exists but never consumes: its messages must survive cleanup.
        t.subscriber().subscribe(options("events", "slow").build(), d -> { }).close();
        t.subscriber().subscribe(options("other", "done").build(), d -> { });
        t.publisher().publishAll("events", List.of(Message.ofText("a"), Message.ofText("b"))).join();
        Recorder other = new Recorder();
        t.subscriber().subscribe(options("other", "done2").build(), other);
        t.publisher().publishAll("other", List.of(Message.ofText("c"), Message.ofText("d"))).join();
        await().atMost(Duration.ofSeconds(10)).until(() -> fast.count() == 2 && other.count() == 2);
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            t.cleanup();
            return countRows(t, "messages") == 2;
        });
        assertThat(countRows(t, "deliveries")).isEqualTo(2);
    }

    @Test
    void schemaIsVersionedAndReopeningDoesNotMigrateAgain() {
        open().close();
        JdbcTransport again = open();
        assertThat(countRows(again, "schema_version")).isEqualTo(3);
    }

    @Test
    void keepsMessagesAcrossARestart() {
        JdbcTransport first = open();
        first.subscriber().subscribe(options("durable", "g").build(), d -> {
            throw new IllegalStateException("not yet");
        }).close(Duration.ofSeconds(1));
        first.publisher().publish("durable", Message.ofText("survives")).join();
        first.close();

        JdbcTransport second = open();
        Recorder r = new Recorder();
        second.subscriber().subscribe(options("durable", "g").build(), r);
        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 1);
        assertThat(r.texts()).containsExactly("survives");
    }

    @Test
    void rejectsAnAtomicBatchWithoutStoringAnyOfIt() {
        JdbcTransport t = open(b -> b.maxPayloadBytes(5));
        List<Message> batch = List.of(Message.ofText("ok"), Message.ofText("far too long"));
        assertThatThrownBy(() -> t.publisher().publishAll("x", batch)).isInstanceOf(MessageTooLargeException.class);
        assertThat(countRows(t, "messages")).isZero();
        assertThat(BatchPublishException.class).isAssignableTo(io.courier.PublishException.class);
    }

    @Test
    void delayedPublishInTheCallersTransactionWaitsForItsTime() throws Exception {
        JdbcTransport t = open();
        Recorder r = new Recorder();
        t.subscriber().subscribe(options("later", "g").build(), r);
        try (Connection tx = t.dataSource().getConnection()) {
            t.transactionalPublisher().publishAt(tx, "later", Message.ofText("soon"),
                    Instant.now().plus(300, ChronoUnit.MILLIS));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 1);
        assertThat(r.texts()).containsExactly("soon");
    }

    /**
     * Small claim batches under a large in-flight budget: on PostgreSQL several pollers of one
     * subscription claim at once, and unkeyed publishes from several threads use several writers. Every
     * message arrives exactly once, keys stay in order, and a close in the middle loses nothing and
     * counts no attempt for what was prefetched.
     */
    @Test
    void parallelPollersAndWritersDeliverEveryMessageOnceKeepKeyOrderAndCloseCleanly() throws Exception {
        JdbcTransport t = open(b -> b.claimBatchSize(5));
        Map<String, AtomicInteger> times = new ConcurrentHashMap<>();
        Map<String, List<Integer>> seenByKey = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> runningByKey = new ConcurrentHashMap<>();
        AtomicInteger overlaps = new AtomicInteger();
        AtomicInteger notFirstAttempt = new AtomicInteger();
        io.courier.Handler handler = d -> {
            String key = d.message().key().orElse(null);
            if (key != null && runningByKey.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet() > 1) {
                overlaps.incrementAndGet();
            }
            try {
                if (d.attempt() != 1) {
                    notFirstAttempt.incrementAndGet();
                }
                if (key != null) {
                    seenByKey.computeIfAbsent(key, k -> java.util.Collections.synchronizedList(new ArrayList<>()))
                            .add(Integer.parseInt(d.message().payloadAsText().substring(key.length() + 1)));
                }
                times.computeIfAbsent(d.message().id(), k -> new AtomicInteger()).incrementAndGet();
            } finally {
                if (key != null) {
                    runningByKey.get(key).decrementAndGet();
                }
            }
        };
        SubscriptionOptions opts = options("bulk", "g").concurrency(4).maxInFlight(40).build();
        Subscription first = t.subscriber().subscribe(opts, handler);

        int perThread = 150;
        List<Thread> publishers = new ArrayList<>();
        for (int p = 0; p < 4; p++) {
            String key = "key-" + p;
            publishers.add(new Thread(() -> {
                List<java.util.concurrent.CompletableFuture<?>> sent = new ArrayList<>();
                for (int i = 0; i < perThread; i++) {
                    sent.add(t.publisher().publish("bulk", Message.builder().key(key).payload((key + ":" + i).getBytes()).build()));
                    sent.add(t.publisher().publishAll("bulk", List.of(Message.ofText("u" + i), Message.ofText("v" + i))));
                }
                sent.forEach(java.util.concurrent.CompletableFuture::join);
            }));
        }
        publishers.forEach(Thread::start);
        int total = 4 * perThread * 3;
        await().atMost(Duration.ofSeconds(30)).until(() -> times.size() >= total / 3);
        first.close();
        for (Thread p : publishers) {
            p.join(30_000);
        }
        t.subscriber().subscribe(opts, handler);

        await().atMost(Duration.ofSeconds(60)).until(() -> times.size() == total);
        assertThat(times.values()).as("deliveries per message").allMatch(n -> n.get() == 1);
        assertThat(notFirstAttempt.get()).as("deliveries with an attempt counted").isZero();
        assertThat(overlaps.get()).as("messages of one key handled at the same time").isZero();
        for (int p = 0; p < 4; p++) {
            assertThat(seenByKey.get("key-" + p)).as("order of key-%d", p)
                    .containsExactlyElementsOf(IntStream.range(0, perThread).boxed().toList());
        }
    }

    @Test
    void messagesOfOneKeyAreHandledOneAtATimeInPublishOrderAcrossConsumers() throws Exception {
        JdbcTransport a = open();
        JdbcTransport b = open();
        assertThat(a.subscriber()).isInstanceOf(io.courier.KeyOrderedSubscriber.class);
        Map<String, List<Integer>> seen = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> running = new ConcurrentHashMap<>();
        AtomicInteger overlaps = new AtomicInteger();
        AtomicInteger total = new AtomicInteger();
        io.courier.Handler handler = d -> {
            String key = d.message().key().orElse("none");
            if (running.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet() > 1 && !key.equals("none")) {
                overlaps.incrementAndGet();
            }
            try {
                int seq = Integer.parseInt(d.message().payloadAsText());
                if (seq % 7 == 0 && d.attempt() == 1 && !key.equals("none")) {
                    throw new IllegalStateException("fails once: later messages of " + key + " must wait");
                }
                seen.computeIfAbsent(key, k -> java.util.Collections.synchronizedList(new ArrayList<>())).add(seq);
                total.incrementAndGet();
            } finally {
                running.get(key).decrementAndGet();
            }
        };
        a.subscriber().subscribe(options("ordered", "g").concurrency(4).build(), handler);
        b.subscriber().subscribe(options("ordered", "g").concurrency(4).build(), handler);

        for (int i = 0; i < 40; i++) {
            for (int k = 0; k < 4; k++) {
                a.publisher().publish("ordered", Message.builder().key("key-" + k).payload(Integer.toString(i).getBytes()).build());
            }
            a.publisher().publish("ordered", Message.ofText(Integer.toString(i)));   // no key: not held back
        }

        await().atMost(Duration.ofSeconds(30)).until(() -> total.get() == 200);
        for (int k = 0; k < 4; k++) {
            assertThat(seen.get("key-" + k)).as("order of key-%d", k).containsExactlyElementsOf(
                    IntStream.range(0, 40).boxed().toList());
        }
        assertThat(overlaps.get()).as("messages of one key handled at the same time").isZero();
    }

    @Test
    void upgradesASchemaAtVersionOneAndKeepsItsMessages() throws Exception {
        JdbcTransport probe = open();
        String prefix = "old_";
        io.courier.jdbc.internal.SqlDialect dialect = probe.name().equals("sqlite")
                ? new io.courier.jdbc.internal.SqliteDialect() : new io.courier.jdbc.internal.PostgresDialect();
        io.courier.jdbc.internal.Tables tables = new io.courier.jdbc.internal.Tables(prefix);
        try (Connection c = rawConnection(); Statement s = c.createStatement()) {
            s.execute(dialect.createSchemaVersionTable(tables));
            for (String sql : dialect.migrations(tables).get(0).statements()) {
                s.execute(sql);
            }
            s.execute("INSERT INTO old_schema_version (version, description, applied_at) VALUES (1, 'v1', 0)");
            s.execute("INSERT INTO old_groups (id, topic, name, start_position, created_at) VALUES (1, 'legacy', 'g', 'EARLIEST', 0)");
            s.execute("INSERT INTO old_messages (id, topic, message_id, msg_key, headers, payload, timestamp_ns, created_at, deliver_at)"
                    + " VALUES (1, 'legacy', 'old-1', 'k', NULL, " + (probe.name().equals("sqlite") ? "X'6869'" : "'\\x6869'")
                    + ", 0, 0, 0)");
            s.execute("INSERT INTO old_deliveries (group_id, message_row, visible_at, attempts) VALUES (1, 1, 0, 0)");
        }

        JdbcTransport upgraded = open(b -> b.tablePrefix(prefix));
        assertThat(countRows(upgraded, "schema_version")).isEqualTo(dialect.migrations(tables).size());
        Recorder r = new Recorder();
        upgraded.subscriber().subscribe(options("legacy", "g").build(), r);
        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 1);
        assertThat(r.deliveries.get(0).message().id()).isEqualTo("old-1");
        assertThat(r.deliveries.get(0).message().payloadAsText()).isEqualTo("hi");
        assertThat(r.deliveries.get(0).message().key()).contains("k");
    }

    @Test
    void keyOrderingAskedOfASubscriptionIsKeptUnderConcurrency() {
        JdbcTransport t = open();
        List<Integer> seen = java.util.Collections.synchronizedList(new ArrayList<>());
        AtomicInteger running = new AtomicInteger();
        AtomicInteger overlaps = new AtomicInteger();
        Subscription s = t.subscriber().subscribe(options("asked", "g").concurrency(8).ordering(MessageOrdering.KEY).build(), d -> {
            if (running.incrementAndGet() > 1) {
                overlaps.incrementAndGet();
            }
            seen.add(Integer.parseInt(d.message().payloadAsText()));
            running.decrementAndGet();
        });
        assertThat(s.options().ordering()).isEqualTo(MessageOrdering.KEY);
        List<Message> batch = IntStream.range(0, 100)
                .mapToObj(i -> Message.builder().key("one-key").payload(Integer.toString(i).getBytes(java.nio.charset.StandardCharsets.UTF_8)).build())
                .toList();
        t.publisher().publishAll("asked", batch).join();

        await().atMost(Duration.ofSeconds(30)).until(() -> seen.size() == 100);
        assertThat(seen).containsExactlyElementsOf(IntStream.range(0, 100).boxed().toList());
        assertThat(overlaps).hasValue(0);
    }

    /** An option of another transport. */
    private record KafkaLikeOption(String ordering) implements TransportOption {
    }

    @Test
    void aTransportOptionIsRefusedNamingItBeforeTheGroupIsRegistered() {
        JdbcTransport t = open();
        assertThatThrownBy(() -> t.subscriber().subscribe(options("foreign", "g").with(new KafkaLikeOption("KEY")).build(), d -> { }))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the " + t.name() + " transport does not understand the transport option "
                        + KafkaLikeOption.class.getName())
                .hasMessageContaining("it understands no transport options");
        assertThat(countRows(t, "groups")).as("groups registered").isZero();
    }

    static long countRows(JdbcTransport t, String table) {
        return countRows(t, table, true);
    }

    static long countRows(JdbcTransport t, String table, boolean prefixed) {
        String name = prefixed ? t.tablePrefix() + table : table;
        try (Connection c = t.dataSource().getConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + name)) {
            rs.next();
            return rs.getLong(1);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
