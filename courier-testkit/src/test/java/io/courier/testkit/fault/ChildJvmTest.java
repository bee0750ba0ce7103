package io.courier.testkit.fault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ChildJvmTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @Test
    void runsMainClassOnThisClasspathWithArgumentsAndSystemProperties() throws Exception {
        try (ChildJvm child = ChildJvm.builder(PrintingMain.class).args("one", "two words")
                .systemProperty("test.prop", "value with spaces").start()) {
            child.awaitLine("WAITING", TIMEOUT);
            assertThat(child.lines()).containsExactly("ARG one", "ARG two words", "PROP value with spaces", "WAITING");
            assertThat(child.isAlive()).isTrue();
        }
    }

    @Test
    void killEndsTheProcessAndKeepsWhatItPrinted() throws Exception {
        ChildJvm child = ChildJvm.builder(PrintingMain.class).start();
        child.awaitLine("WAITING", TIMEOUT);
        child.kill();
        assertThat(child.isAlive()).isFalse();
        assertThat(ProcessHandle.of(child.pid()).map(ProcessHandle::isAlive)).isNotEqualTo(java.util.Optional.of(true));
        assertThat(child.lines()).contains("WAITING");
        child.close();   // idempotent after kill
    }

    @Test
    void closeKillsAChildStillRunning() throws Exception {
        ChildJvm child = ChildJvm.builder(PrintingMain.class).start();
        child.awaitLine("WAITING", TIMEOUT);
        child.close();
        assertThat(child.isAlive()).isFalse();
    }

    @Test
    void awaitingALineFromAnExitedChildFailsWithExitCodeAndStderr() throws Exception {
        try (ChildJvm child = ChildJvm.builder(PrintingMain.class).args("exit", "3").start()) {
            assertThatThrownBy(() -> child.awaitLine("NEVER", TIMEOUT))
                    .isInstanceOf(AssertionError.class)
                    .hasMessageContaining("exited with code 3")
                    .hasMessageContaining("exiting on request");
        }
    }
}
