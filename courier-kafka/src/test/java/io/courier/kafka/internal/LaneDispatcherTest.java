package io.courier.kafka.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

class LaneDispatcherTest {

    private final List<Runnable> submitted = new ArrayList<>();
    private final Executor executor = submitted::add;
    private final LaneDispatcher lanes = new LaneDispatcher(executor);

    @Test
    void oneLaneRunsOneTaskAtATimeInOrder() {
        List<String> ran = new ArrayList<>();
        lanes.submit("a", () -> ran.add("a1"));
        lanes.submit("a", () -> ran.add("a2"));
        lanes.submit("b", () -> ran.add("b1"));
        assertThat(submitted).as("a2 waits for a1; b1 runs at once").hasSize(2);

        submitted.forEach(Runnable::run);
        assertThat(ran).containsExactly("a1", "b1");
        lanes.release("a");
        assertThat(submitted).hasSize(3);
        submitted.get(2).run();
        assertThat(ran).containsExactly("a1", "b1", "a2");

        lanes.release("a");
        lanes.release("b");
        assertThat(lanes.busyLanes()).isZero();
        lanes.release("a");
        assertThat(submitted).as("releasing an idle lane does nothing").hasSize(3);
    }
}
