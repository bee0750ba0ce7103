package io.courier.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.BatchPublishException;
import io.courier.DelayedPublisher;
import io.courier.Delivery;
import io.courier.Headers;
import io.courier.Message;
import io.courier.PublishException;
import io.courier.PublishResult;
import io.courier.StartPosition;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.TransportClosedException;
import io.lettuce.core.Consumer;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XClaimArgs;
import io.lettuce.core.XGroupCreateArgs;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.models.stream.PendingMessages;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class RedisStreamsTransportTest extends RedisTestSupport {

    private static final Duration WAIT = Duration.ofSeconds(15);

    @Test
    void roundTripKeepsEveryByteValueHeadersKeyAndTimestamp() {
        RedisStreamsTransport redis = transport();
        byte[] payload = new byte[512];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) i;   // every byte value, twice, including invalid UTF-8 sequences
        }
        Message sent = Message.builder().key("order-7").header("content-type", "application/octet-stream")
                .header("ünïcödé", "välue ✓").payload(payload).timestamp(Instant.parse("2024-05-06T07:08:09.123456789Z")).build();
        List<Delivery> got = new CopyOnWriteArrayList<>();
        redis.subscriber().subscribe("bytes", "g", got::add);

        PublishResult result = redis.publisher().publish("bytes", sent).join();

        assertThat(result.messageId()).isEqualTo(sent.id());
        assertThat(result.position()).hasValueSatisfying(id -> assertThat(id).matches("\\d+-\\d+"));
        await().atMost(WAIT).until(() -> got.size() == 1);
        Delivery d = got.get(0);
        assertThat(d.message()).isEqualTo(sent);
        assertThat(d.message().payload()).isEqualTo(payload);
        assertThat(d.attempt()).isEqualTo(1);
        assertThat(d.topic()).isEqualTo("bytes");
        assertThat(d.group()).isEqualTo("g");
        await().atMost(WAIT).until(() -> pendingCount("bytes", "g") == 0);
    }

    @Test
    void publishAllPipelinesAndReturnsOneResultPerMessageInOrder() {
        RedisStreamsTransport redis = transport();
        List<Message> batch = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            batch.add(Message.ofText("m" + i));
        }
        List<PublishResult> results = redis.publisher().publishAll("batch", batch).join();

        assertThat(results).extracting(PublishResult::messageId).containsExactlyElementsOf(batch.stream().map(Message::id).toList());
        List<StreamMessage<String, String>> entries = raw.xrange(stream("batch"), io.lettuce.core.Range.create("-", "+"));
        assertThat(entries).hasSize(200);
        assertThat(entries.get(0).getId()).isEqualTo(results.get(0).position().orElseThrow());
        assertThat(entries.get(199).getBody().get("payload")).isEqualTo("m199");
    }

    @Test
    void publishAllReportsTheOutcomeOfEachMessage() {
        RedisStreamsTransport redis = transport();
        Message ok = Message.ofText("first").withHeader(RedisStreamsTransport.ENTRY_ID_HEADER, "5-1");
        Message rejected = Message.ofText("id too small").withHeader(RedisStreamsTransport.ENTRY_ID_HEADER, "5-0");
        Message alsoOk = Message.ofText("third");

        assertThatThrownBy(() -> redis.publisher().publishAll("partial", List.of(ok, rejected, alsoOk)).join())
                .cause().isInstanceOfSatisfying(BatchPublishException.class, e -> {
                    assertThat(e.outcomes()).hasSize(3);
                    assertThat(e.outcomes().get(0).result()).hasValueSatisfying(r -> assertThat(r.position()).contains("5-1"));
                    assertThat(e.outcomes().get(1).failure()).hasValueSatisfying(f ->
                            assertThat(f).isInstanceOf(PublishException.class).hasMessageContaining("equal or smaller"));
                    assertThat(e.outcomes().get(2).result()).isPresent();
                });
        assertThat(raw.xlen(stream("partial"))).isEqualTo(2);
    }

    @Test
    void oversizePayloadIsRefusedBeforeAnyIo() {
        RedisStreamsTransport redis = transport(config().maxPayloadBytes(10).build());
        assertThatThrownBy(() -> redis.publisher().publish("big", Message.of(new byte[11])))
                .isInstanceOf(io.courier.MessageTooLargeException.class);
        assertThatThrownBy(() -> redis.publisher().publish("bad{topic}", Message.ofText("x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'{'");
        assertThat(raw.exists(stream("big"))).isZero();
    }

    @Test
    void everyGroupReceivesEveryMessageAndConsumersOfOneGroupCompete() {
        RedisStreamsTransport redis = transport();
        Map<String, List<String>> byConsumer = new ConcurrentHashMap<>();
        for (String name : List.of("billing-1", "billing-2", "audit-1")) {
            String group = name.substring(0, name.indexOf('-'));
            redis.subscriber().subscribe(SubscriptionOptions.builder("orders", group).consumerName(name).concurrency(2).build(),
                    d -> byConsumer.computeIfAbsent(name, k -> new CopyOnWriteArrayList<>()).add(d.message().payloadAsText()));
        }
        List<String> sent = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            sent.add("order-" + i);
            redis.publisher().publish("orders", Message.ofText("order-" + i));
        }

        await().atMost(WAIT).untilAsserted(() -> {
            List<String> billing = new ArrayList<>(byConsumer.getOrDefault("billing-1", List.of()));
            billing.addAll(byConsumer.getOrDefault("billing-2", List.of()));
            assertThat(billing).containsExactlyInAnyOrderElementsOf(sent);
            assertThat(byConsumer.get("audit-1")).containsExactlyInAnyOrderElementsOf(sent);
        });
        assertThat(byConsumer.get("billing-1")).isNotEmpty();
        assertThat(byConsumer.get("billing-2")).isNotEmpty();
    }

    @Test
    void groupCreationIsIdempotentAndRecognisesBusyGroupByItsCode() {
        raw.xgroupCreate(XReadArgs.StreamOffset.from(stream("existing"), "0"), "g", XGroupCreateArgs.Builder.mkstream());
        raw.xadd(stream("existing"), Map.of("id", "m-1", "payload", "before"));
        RedisStreamsTransport redis = transport();
        List<String> got = new CopyOnWriteArrayList<>();

        redis.subscriber().subscribe("existing", "g", d -> got.add(d.message().payloadAsText()));
        redis.subscriber().subscribe("existing", "g", d -> got.add(d.message().payloadAsText()));

        await().atMost(WAIT).until(() -> got.size() == 1);
        assertThat(got).containsExactly("before");
        assertThat(io.courier.redis.internal.RedisSubscriptionAccess.errorCode(
                new io.lettuce.core.RedisCommandExecutionException("BUSYGROUP Consumer Group name already exists (reworded in some version)")))
                .isEqualTo("BUSYGROUP");
    }

    @Test
    void newGroupStartsAtEarliestByDefaultAndLatestWhenAsked() {
        RedisStreamsTransport redis = transport();
        redis.publisher().publish("history", Message.ofText("old")).join();
        List<String> earliest = new CopyOnWriteArrayList<>();
        List<String> latest = new CopyOnWriteArrayList<>();
        redis.subscriber().subscribe("history", "from-start", d -> earliest.add(d.message().payloadAsText()));
        redis.subscriber().subscribe(SubscriptionOptions.builder("history", "from-now").startPosition(StartPosition.LATEST).build(),
                d -> latest.add(d.message().payloadAsText()));
        redis.publisher().publish("history", Message.ofText("new")).join();

        await().atMost(WAIT).until(() -> earliest.size() == 2 && latest.size() == 1);
        assertThat(earliest).containsExactly("old", "new");
        assertThat(latest).containsExactly("new");
    }

    @Test
    void failedMessageIsRedeliveredToTheFailingGroupOnlyWithTheNextAttempt() {
        RedisStreamsTransport redis = transport();
        List<Integer> flakyAttempts = new CopyOnWriteArrayList<>();
        List<Integer> steadyAttempts = new CopyOnWriteArrayList<>();
        redis.subscriber().subscribe(SubscriptionOptions.builder("payments", "flaky").failureRedeliveryDelay(Duration.ofMillis(100)).build(), d -> {
            flakyAttempts.add(d.attempt());
            if (d.attempt() < 3) {
                throw new IllegalStateException("not yet");
            }
        });
        redis.subscriber().subscribe("payments", "steady", d -> steadyAttempts.add(d.attempt()));

        redis.publisher().publish("payments", Message.ofText("pay")).join();

        await().atMost(WAIT).until(() -> flakyAttempts.size() == 3);
        assertThat(flakyAttempts).containsExactly(1, 2, 3);
        await().atMost(WAIT).until(() -> pendingCount("payments", "flaky") == 0 && retryBacklog("payments", "flaky") == 0);
        assertThat(steadyAttempts).containsExactly(1);
        assertThat(raw.xlen(stream("payments"))).isEqualTo(1);   // retries never went through the shared stream
    }

    @Test
    void retryAfterRedeliversLaterWithTheNewHeaders() {
        RedisStreamsTransport redis = transport();
        List<Delivery> got = new CopyOnWriteArrayList<>();
        redis.subscriber().subscribe("later", "g", d -> {
            got.add(d);
            if (d.attempt() == 1) {
                d.retryAfter(Duration.ofMillis(300), Map.of("x-retry", "yes"));
            }
        });
        Message sent = Message.ofText("again");
        redis.publisher().publish("later", sent).join();

        await().atMost(WAIT).until(() -> got.size() == 2);
        assertThat(got.get(1).attempt()).isEqualTo(2);
        assertThat(got.get(1).message().id()).isEqualTo(sent.id());
        assertThat(got.get(1).message().header("x-retry")).contains("yes");
        assertThat(got.get(1).message().payloadAsText()).isEqualTo("again");
    }

    @Test
    void poisonMessageIsDeadLetteredAfterMaxDeliveriesWhileOthersFlow() {
        RedisStreamsTransport redis = transport(config().maxDeliveries(3).build());
        AtomicInteger poisonCalls = new AtomicInteger();
        Set<String> handled = ConcurrentHashMap.newKeySet();
        redis.subscriber().subscribe(SubscriptionOptions.builder("jobs", "workers").failureRedeliveryDelay(Duration.ofMillis(50)).build(), d -> {
            if (d.message().payloadAsText().equals("poison")) {
                poisonCalls.incrementAndGet();
                throw new IllegalArgumentException("cannot parse poison");
            }
            handled.add(d.message().payloadAsText());
        });
        List<Delivery> dead = new CopyOnWriteArrayList<>();
        redis.subscriber().subscribe("jobs.dlq", "inspector", dead::add);

        Message poison = Message.ofText("poison");
        redis.publisher().publish("jobs", poison).join();
        for (int i = 0; i < 50; i++) {
            redis.publisher().publish("jobs", Message.ofText("job-" + i));
        }

        await().atMost(WAIT).until(() -> handled.size() == 50 && dead.size() == 1);
        assertThat(poisonCalls).hasValue(3);
        Message dl = dead.get(0).message();
        assertThat(dl.id()).isEqualTo(poison.id());
        assertThat(dl.payloadAsText()).isEqualTo("poison");
        assertThat(dl.headers()).containsEntry(Headers.ORIGINAL_TOPIC, "jobs")
                .containsEntry(Headers.ATTEMPTS, "3")
                .containsEntry(Headers.DEAD_LETTER_REASON, "max-deliveries")
                .containsEntry(Headers.DEAD_LETTER_GROUP, "workers")
                .containsEntry(Headers.EXCEPTION_CLASS, IllegalArgumentException.class.getName())
                .containsEntry(Headers.EXCEPTION_MESSAGE, "cannot parse poison")
                .containsKeys(Headers.FIRST_FAILURE_AT, Headers.LAST_FAILURE_AT);
        await().atMost(WAIT).until(() -> pendingCount("jobs", "workers") == 0 && retryBacklog("jobs", "workers") == 0);
    }

    @Test
    void reclaimsEntriesOfAConsumerThatDiedWithoutAcking() {
        RedisStreamsTransport redis = transport();
        redis.subscriber().subscribe("tasks", "g", d -> { }).close();   // create the group
        for (int i = 0; i < 20; i++) {
            redis.publisher().publish("tasks", Message.ofText("task-" + i)).join();
        }
        // Consumer A reads everything on its own connection, then its connection dies without an XACK.
        RedisStreamsTransport consumerA = RedisStreamsTransport.create(config().build());
        io.lettuce.core.RedisClient clientA = io.lettuce.core.RedisClient.create(REDIS_URI);
        var connA = clientA.connect();
        List<StreamMessage<String, String>> taken = connA.sync().xreadgroup(Consumer.from("g", "consumer-a"),
                XReadArgs.Builder.count(100), XReadArgs.StreamOffset.lastConsumed(stream("tasks")));
        assertThat(taken).hasSize(20);
        connA.close();
        clientA.shutdown();
        consumerA.close();
        assertThat(pendingCount("tasks", "g")).isEqualTo(20);

        Set<String> handledByB = ConcurrentHashMap.newKeySet();
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        redis.subscriber().subscribe(SubscriptionOptions.builder("tasks", "g").consumerName("consumer-b")
                .leaseTimeout(Duration.ofSeconds(1)).build(), d -> {
            handledByB.add(d.message().payloadAsText());
            attempts.add(d.attempt());
        });

        await().atMost(WAIT).until(() -> handledByB.size() == 20 && pendingCount("tasks", "g") == 0);
        assertThat(attempts).containsOnly(2);
    }

    @Test
    void reclaimHonoursTheDeliveryCountAndDeadLettersWithoutCallingTheHandler() {
        RedisStreamsTransport redis = transport(config().maxDeliveries(4).build());
        redis.subscriber().subscribe("crashy", "g", d -> { }).close();
        Message crasher = Message.ofText("kills its consumer");
        redis.publisher().publish("crashy", crasher).join();
        // Simulate four consumers that each took the entry and died: delivery count 4 in the pending list.
        List<StreamMessage<String, String>> taken = raw.xreadgroup(Consumer.from("g", "dead-1"),
                XReadArgs.StreamOffset.lastConsumed(stream("crashy")));
        raw.xclaim(stream("crashy"), Consumer.from("g", "dead-4"), XClaimArgs.Builder.minIdleTime(0).retryCount(4).idle(Duration.ofMinutes(5)),
                taken.get(0).getId());

        AtomicInteger calls = new AtomicInteger();
        redis.subscriber().subscribe(SubscriptionOptions.builder("crashy", "g").leaseTimeout(Duration.ofSeconds(1)).build(),
                d -> calls.incrementAndGet());

        await().atMost(WAIT).until(() -> raw.xlen(stream("crashy.dlq")) == 1);
        await().atMost(WAIT).until(() -> pendingCount("crashy", "g") == 0);
        assertThat(calls).hasValue(0);
        Map<String, String> fields = raw.xrange(stream("crashy.dlq"), io.lettuce.core.Range.create("-", "+")).get(0).getBody();
        assertThat(fields).containsEntry("id", crasher.id())
                .containsEntry("h:" + Headers.DEAD_LETTER_REASON, "max-deliveries")
                .containsEntry("h:" + Headers.ATTEMPTS, "4");
    }

    @Test
    void consumerWithAStableNameTakesUpItsOwnPendingEntriesAtOnceAfterRestart() {
        RedisStreamsTransport redis = transport();
        redis.subscriber().subscribe("resume", "g", d -> { }).close();
        redis.publisher().publish("resume", Message.ofText("was in flight")).join();
        raw.xreadgroup(Consumer.from("g", "worker-1"), XReadArgs.StreamOffset.lastConsumed(stream("resume")));

        List<Integer> attempts = new CopyOnWriteArrayList<>();
        // A lease of ten minutes: only the restart recovery can deliver it within the test.
        redis.subscriber().subscribe(SubscriptionOptions.builder("resume", "g").consumerName("worker-1")
                .leaseTimeout(Duration.ofMinutes(10)).build(), d -> attempts.add(d.attempt()));

        await().atMost(WAIT).until(() -> attempts.size() == 1 && pendingCount("resume", "g") == 0);
        assertThat(attempts).containsExactly(2);
    }

    @Test
    void delayedDeliveryHasNoHeadOfLineBlocking() {
        RedisStreamsTransport redis = transport();
        DelayedPublisher publisher = redis.publisher();
        List<String> got = new CopyOnWriteArrayList<>();
        redis.subscriber().subscribe("reminders", "g", d -> got.add(d.message().payloadAsText()));

        Instant start = Instant.now();
        publisher.publishAfter("reminders", Message.ofText("in a minute"), Duration.ofSeconds(60)).join();
        publisher.publishAfter("reminders", Message.ofText("in a second"), Duration.ofSeconds(1)).join();

        await().atMost(WAIT).until(() -> got.contains("in a second"));
        assertThat(Duration.between(start, Instant.now())).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
        assertThat(got).containsExactly("in a second");
        assertThat(raw.zcard(stream("reminders") + ":delayed")).isEqualTo(1);   // the long one still waits
    }

    /**
     * With a 5 s scheduler interval, delayed messages due 300 ms apart (behind one due in a minute) and a
     * retry after 500 ms each arrive within 500 ms of their due time, never before it: the mover runs
     * when the earliest member it knows of is due, not on its interval. On the interval alone they were
     * late by up to 5 s.
     */
    @Test
    void delayedMessagesAndRetriesAreMovedWhenDueWhateverTheSchedulerInterval() {
        RedisStreamsTransport t = transport(config().schedulerInterval(Duration.ofSeconds(5)).build());
        Map<String, Instant> receivedAt = new ConcurrentHashMap<>();
        Map<String, Instant> due = new ConcurrentHashMap<>();
        t.subscriber().subscribe(SubscriptionOptions.builder("punctual", "g").build(), d -> {
            String text = d.message().payloadAsText();
            if (text.equals("retried") && d.attempt() == 1) {
                due.put(text, Instant.now().plusMillis(500));
                d.retryAfter(Duration.ofMillis(500), Map.of());
                return;
            }
            receivedAt.putIfAbsent(text, Instant.now());
        });
        DelayedPublisher publisher = (DelayedPublisher) t.publisher();
        publisher.publishAfter("punctual", Message.ofText("after a minute"), Duration.ofMinutes(1)).join();
        for (long millis : new long[] {2_000, 2_300}) {
            Instant at = Instant.now().plusMillis(millis);
            publisher.publishAt("punctual", Message.ofText("after " + millis + " ms"), at).join();
            due.put("after " + millis + " ms", at);
        }
        t.publisher().publish("punctual", Message.ofText("retried")).join();

        await().atMost(Duration.ofSeconds(15)).until(() -> receivedAt.keySet().containsAll(due.keySet()));
        due.forEach((text, at) -> {
            System.out.printf("redis: '%s' arrived %d ms after it was due%n", text,
                    Duration.between(at, receivedAt.get(text)).toMillis());
            assertThat(receivedAt.get(text)).as("'%s' received at (due %s)", text, at)
                    .isAfterOrEqualTo(at.minusMillis(5))
                    .isBeforeOrEqualTo(at.plusMillis(500));
        });
        assertThat(receivedAt).as("received, the minute's delay included").hasSize(3);
    }

    @Test
    void delayedAndRetriedMessagesKeepBinaryPayloadsThroughTheLuaMover() {
        RedisStreamsTransport redis = transport();
        byte[] payload = new byte[1024];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) (i * 7);   // every byte value, ':' and NUL included
        }
        Message sent = Message.builder().key("k:1").header("h:x", "a:b").payload(payload).build();
        List<Delivery> got = new CopyOnWriteArrayList<>();
        redis.subscriber().subscribe("binary-later", "g", d -> {
            got.add(d);
            if (d.attempt() == 1) {
                throw new IllegalStateException("once more");
            }
        });

        redis.publisher().publishAfter("binary-later", sent, Duration.ofMillis(300)).join();

        await().atMost(WAIT).until(() -> got.size() == 2);
        assertThat(got).extracting(Delivery::message).containsOnly(sent);
        assertThat(got.get(1).attempt()).isEqualTo(2);
    }

    @Test
    void delayedMessageInThePastIsPublishedAtOnce() {
        RedisStreamsTransport redis = transport();
        PublishResult r = redis.publisher().publishAt("now", Message.ofText("x"), Instant.now().minusSeconds(5)).join();
        assertThat(r.position()).isPresent();
        assertThat(raw.xlen(stream("now"))).isEqualTo(1);
    }

    @Test
    void closeIsPromptWhileAReadIsBlocked() {
        RedisStreamsTransport redis = transport(config().blockTimeout(Duration.ofSeconds(20)).commandTimeout(Duration.ofSeconds(30)).build());
        Subscription s = redis.subscriber().subscribe("quiet", "g", d -> { });
        await().pollDelay(Duration.ofMillis(300)).until(() -> true);   // let the reader enter its blocked read

        long started = System.nanoTime();
        s.close();

        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
        assertThat(s.isRunning()).isFalse();
    }

    @Test
    void closeReleasesFetchedButUnstartedEntriesToTheGroupAtOnce() throws Exception {
        RedisStreamsTransport redis = transport();
        CountDownLatch firstStarted = new CountDownLatch(1);
        CountDownLatch releaseFirst = new CountDownLatch(1);
        List<String> first = new CopyOnWriteArrayList<>();
        Subscription slow = redis.subscriber().subscribe(SubscriptionOptions.builder("queue", "g").concurrency(1).maxInFlight(10)
                .leaseTimeout(Duration.ofMinutes(10)).build(), d -> {
            first.add(d.message().payloadAsText());
            firstStarted.countDown();
            releaseFirst.await();
        });
        for (int i = 0; i < 5; i++) {
            redis.publisher().publish("queue", Message.ofText("q" + i)).join();
        }
        assertThat(firstStarted.await(15, TimeUnit.SECONDS)).isTrue();
        await().atMost(WAIT).until(() -> pendingCount("queue", "g") == 5);   // all fetched by the slow consumer

        Thread closer = new Thread(slow::close);
        closer.start();
        await().atMost(WAIT).until(() -> !slow.isRunning());
        releaseFirst.countDown();
        closer.join(15_000);

        List<String> second = new CopyOnWriteArrayList<>();
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        redis.subscriber().subscribe(SubscriptionOptions.builder("queue", "g").leaseTimeout(Duration.ofMinutes(10)).build(), d -> {
            second.add(d.message().payloadAsText());
            attempts.add(d.attempt());
        });
        await().atMost(WAIT).until(() -> first.size() + second.size() == 5 && pendingCount("queue", "g") == 0);
        assertThat(first).hasSize(1);
        assertThat(attempts).containsOnly(1);   // a fetch that never reached a handler is not an attempt
    }

    @Test
    void idleConsumersAreRemovedOnlyWhenTheyOwnNoPendingEntry() {
        raw.xgroupCreate(XReadArgs.StreamOffset.from(stream("crowd"), "0"), "g", XGroupCreateArgs.Builder.mkstream());
        raw.xadd(stream("crowd"), Map.of("id", "m1", "payload", "held"));
        raw.xreadgroup(Consumer.from("g", "holder"), XReadArgs.StreamOffset.lastConsumed(stream("crowd")));
        raw.xreadgroup(Consumer.from("g", "ghost"), XReadArgs.StreamOffset.lastConsumed(stream("crowd")));
        await().pollDelay(Duration.ofMillis(50)).until(() -> true);   // both idle > 10 ms

        RedisStreamsTransport redis = transport(config().idleConsumerRemoval(Duration.ofMillis(10)).build());
        redis.subscriber().subscribe(SubscriptionOptions.builder("crowd", "g").consumerName("live")
                .leaseTimeout(Duration.ofMinutes(10)).build(), d -> { });

        await().atMost(WAIT).until(() -> consumerNames("crowd", "g").equals(Set.of("holder", "live")));
    }

    @Test
    void streamsAreTrimmedAsConfiguredPerTopic() {
        RedisStreamsTransport redis = transport(config().trim("capped", StreamTrim.maxLength(10).exact()).build());
        for (int i = 0; i < 50; i++) {
            redis.publisher().publish("capped", Message.ofText("c" + i)).join();
            redis.publisher().publish("uncapped", Message.ofText("u" + i)).join();
        }
        assertThat(raw.xlen(stream("capped"))).isEqualTo(10);
        assertThat(raw.xlen(stream("uncapped"))).isEqualTo(50);
    }

    @Test
    void waitForReplicasFailsThePublishWhenTooFewReplicasAcknowledge() {
        RedisStreamsTransport redis = transport(config().waitForReplicas(1, Duration.ofMillis(100)).build());
        assertThatThrownBy(() -> redis.publisher().publish("replicated", Message.ofText("x")).get())
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(PublishException.class).hasMessageContaining("0 of 1 replica");
    }

    @Test
    void closedTransportRefusesWork() {
        RedisStreamsTransport redis = RedisStreamsTransport.create(config().build());
        redis.close();
        redis.close();
        assertThatThrownBy(() -> redis.publisher().publish("t", Message.ofText("x"))).isInstanceOf(TransportClosedException.class);
        assertThatThrownBy(() -> redis.subscriber().subscribe("t", "g", d -> { })).isInstanceOf(TransportClosedException.class);
    }

    @Test
    void aclUserWithPasswordConnectsAndWrongPasswordIsRefused() {
        String user = "courier-test-" + prefix.substring(13, 21);
        raw.aclSetuser(user, io.lettuce.core.AclSetuserArgs.Builder.on().addPassword("right-pw").keyPattern(prefix + "*").allCommands());
        try {
            try (RedisStreamsTransport redis = RedisStreamsTransport.create(config().credentials(user, "right-pw").build())) {
                List<String> got = new CopyOnWriteArrayList<>();
                redis.subscriber().subscribe("acl", "g", d -> got.add(d.message().payloadAsText()));
                redis.publisher().publish("acl", Message.ofText("authenticated")).join();
                await().atMost(WAIT).until(() -> got.size() == 1);
            }

            assertThatThrownBy(() -> RedisStreamsTransport.create(config().credentials(user, "wrong-pw").build()))
                    .isInstanceOf(io.courier.CourierException.class).hasMessageContaining("cannot connect");
        } finally {
            raw.aclDeluser(user);
        }
    }

    // ---------------------------------------------------------------- helpers

    private long pendingCount(String topic, String group) {
        PendingMessages p = raw.xpending(stream(topic), group);
        return p.getCount();
    }

    private long retryBacklog(String topic, String group) {
        return raw.zcard(stream(topic) + ":retry-due:" + group) + raw.xlen(stream(topic) + ":retry:" + group);
    }

    private Set<String> consumerNames(String topic, String group) {
        Set<String> names = new java.util.HashSet<>();
        for (Object c : raw.xinfoConsumers(stream(topic), group)) {
            List<?> fields = (List<?>) c;
            for (int i = 0; i < fields.size(); i += 2) {
                if ("name".equals(fields.get(i))) {
                    names.add(String.valueOf(fields.get(i + 1)));
                }
            }
        }
        return names;
    }
}
