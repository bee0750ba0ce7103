package io.courier.jdbc;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * A transport's tests use the transport conformance suite only, so courier-testkit (whose dependency
 * on courier-tasks is optional) must not bring the task modules onto their classpath, while the suite
 * itself still runs here ({@link SqliteConformanceTest}).
 */
class TestkitClasspathTest {

    @Test
    void transportTestsDoNotGetTheTaskModules() {
        assertThatThrownBy(() -> Class.forName("io.courier.tasks.spi.TaskStore"))
                .isInstanceOf(ClassNotFoundException.class);
    }
}
