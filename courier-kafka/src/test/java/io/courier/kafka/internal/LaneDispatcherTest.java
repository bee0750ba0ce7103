package io.courier.kafka.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

class LaneDispatcherTest {

    private final List<Runnable> submitted = new ArrayList<>();
    private final Executor executor = submitted::add;

    @Test
    void oneLaneRunsItsTasksInOrderInOneExecutorTask() {
        LaneDispatcher lanes = new LaneDispatcher(executor, 100);
        List<String> ran = new ArrayList<>();
        lanes.submit("a", () -> ran.add("a1"));
        lanes.submitAll("a", List.of(() -> ran.add("a2"), () -> ran.add("a3")));
        lanes.submit("b", () -> ran.add("b1"));
        assertThat(submitted).as("one executor task per lane with work").hasSize(2);

        submitted.get(0).run();
        assertThat(ran).containsExactly("a1", "a2", "a3");
        assertThat(lanes.busyLanes()).as("lane a ran empty and was dropped").isEqualTo(1);
        submitted.get(1).run();
        assertThat(ran).containsExactly("a1", "a2", "a3", "b1");
        assertThat(lanes.busyLanes()).isZero();

        lanes.submit("a", () -> ran.add("a4"));
        assertThat(submitted).as("a lane with new work starts again").hasSize(3);
        submitted.get(2).run();
        assertThat(ran).endsWith("a4");
    }

    @Test
    void aLaneGivesUpItsWorkerAfterATurn() {
        LaneDispatcher lanes = new LaneDispatcher(executor, 2);
        List<String> ran = new ArrayList<>();
        lanes.submitAll("a", List.of(() -> ran.add("a1"), () -> ran.add("a2"), () -> ran.add("a3")));
        lanes.submit("b", () -> ran.add("b1"));
        submitted.get(0).run();
        assertThat(ran).containsExactly("a1", "a2");
        assertThat(submitted).as("lane a went to the back of the queue").hasSize(3);
        submitted.get(1).run();
        submitted.get(2).run();
        assertThat(ran).containsExactly("a1", "a2", "b1", "a3");
        assertThat(lanes.busyLanes()).isZero();
    }

    @Test
    void aWaitingTaskHoldsItsLaneUntilResumed() {
        LaneDispatcher lanes = new LaneDispatcher(executor, 100);
        List<String> ran = new ArrayList<>();
        int[] tries = {0};
        lanes.submit("a", () -> {
            ran.add("a1#" + ++tries[0]);
            return tries[0] > 1;
        });
        lanes.submit("a", () -> ran.add("a2"));
        submitted.get(0).run();
        assertThat(ran).as("a2 does not overtake the waiting a1").containsExactly("a1#1");
        assertThat(submitted).hasSize(1);

        lanes.resume("a");
        assertThat(submitted).hasSize(2);
        submitted.get(1).run();
        assertThat(ran).containsExactly("a1#1", "a1#2", "a2");
        assertThat(lanes.busyLanes()).isZero();
        lanes.resume("a");
        assertThat(submitted).as("resuming an idle lane does nothing").hasSize(2);
    }
}
