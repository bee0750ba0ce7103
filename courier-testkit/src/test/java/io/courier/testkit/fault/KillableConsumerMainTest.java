package io.courier.testkit.fault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class KillableConsumerMainTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private static ChildJvm startConsumer(Duration work) throws Exception {
        KillableConsumerMain.Args args = new KillableConsumerMain.Args(SeededInMemoryFactory.class.getName(), "jobs",
                "workers", 1, Duration.ofSeconds(2), work, Duration.ofMinutes(2));
        return ChildJvm.builder(KillableConsumerMain.class)
                .args(args.toArgs())
                .systemProperty(KillableConsumerMain.CONFIG_PREFIX + "topic", "jobs")
                .systemProperty(KillableConsumerMain.CONFIG_PREFIX + "seed", "50")
                .start();
    }

    @Test
    void reportsStartedAndHandledAndCanBeKilledMidMessage() throws Exception {
        try (ChildJvm child = startConsumer(Duration.ofMillis(100))) {
            child.awaitLine(KillableConsumerMain.READY, TIMEOUT);
            child.awaitLine(KillableConsumerMain.HANDLED + "seed-2", TIMEOUT);
            child.awaitLine(KillableConsumerMain.STARTED + "seed-3", TIMEOUT);
            child.kill();

            List<String> lines = child.lines();
            assertThat(lines).containsSubsequence(
                    KillableConsumerMain.STARTED + "seed-0", KillableConsumerMain.HANDLED + "seed-0",
                    KillableConsumerMain.STARTED + "seed-1", KillableConsumerMain.HANDLED + "seed-1");
            assertThat(lines).as("50 messages at 100 ms each cannot be done yet")
                    .doesNotContain(KillableConsumerMain.HANDLED + "seed-49");
        }
    }

    @Test
    void exitsWhenItsParentGoesAway() throws Exception {
        try (ChildJvm child = startConsumer(Duration.ofMillis(10))) {
            child.awaitLine(KillableConsumerMain.READY, TIMEOUT);
            child.closeInput();   // what the parent's death looks like from the child
            assertThat(child.awaitExit(TIMEOUT)).isEqualTo(Optional.of(0));
        }
    }

    @Test
    void argumentsRoundTripAndMissingOnesAreNamed() {
        KillableConsumerMain.Args args = new KillableConsumerMain.Args("a.Factory", "t", "g", 3,
                Duration.ofMillis(1500), Duration.ofMillis(20), Duration.ofSeconds(60));
        assertThat(KillableConsumerMain.Args.parse(args.toArgs().toArray(String[]::new))).isEqualTo(args);
        assertThatThrownBy(() -> KillableConsumerMain.Args.parse(new String[] {"--topic=t", "--group=g"}))
                .hasMessage("missing argument --factory=...");
        assertThatThrownBy(() -> KillableConsumerMain.Args.parse(new String[] {"topic"}))
                .hasMessageContaining("--name=value");
    }
}
