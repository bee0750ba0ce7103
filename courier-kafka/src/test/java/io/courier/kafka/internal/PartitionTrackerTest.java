package io.courier.kafka.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class PartitionTrackerTest {

    private final PartitionTracker tracker = new PartitionTracker(new TopicPartition("t", 0));

    @Test
    void nothingToCommitBeforeARecordWasHandedOut() {
        assertThat(tracker.committable()).isEqualTo(-1);
    }

    @Test
    void commitStopsAtTheFirstUnfinishedRecord() {
        PartitionTracker.Entry r10 = tracker.add(10);
        PartitionTracker.Entry r11 = tracker.add(11);
        PartitionTracker.Entry r12 = tracker.add(12);
        assertThat(tracker.committable()).isEqualTo(10);

        tracker.finish(r11);
        tracker.finish(r12);
        assertThat(tracker.committable()).as("r10 unfinished: later finished records do not move the commit").isEqualTo(10);
        assertThat(tracker.unfinished()).isEqualTo(1);
        assertThat(tracker.window()).isEqualTo(3);

        tracker.finish(r10);
        assertThat(tracker.committable()).isEqualTo(13);
        assertThat(tracker.window()).isZero();
        tracker.finish(r10);
        assertThat(tracker.unfinished()).as("finish is idempotent").isZero();
    }

    @Test
    void gapsInOffsetsAreFine() {
        PartitionTracker.Entry a = tracker.add(5);
        tracker.add(9);
        tracker.finish(a);
        assertThat(tracker.committable()).isEqualTo(9);
        assertThatThrownBy(() -> tracker.add(7)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void noRecordStartsOnceThePartitionIsRevoked() {
        assertThat(tracker.tryStart()).isTrue();
        assertThat(tracker.active()).isEqualTo(1);
        tracker.revoke();
        assertThat(tracker.tryStart()).isFalse();
        assertThat(tracker.active()).as("a refused start is not counted").isEqualTo(1);
    }

    @Test
    void addAllAndFinishAndStop() {
        PartitionTracker.Entry[] e = tracker.addAll(new long[] {3, 4, 6});
        tracker.started();
        tracker.finishAndStop(e[0]);
        assertThat(tracker.active()).isZero();
        assertThat(tracker.unfinished()).isEqualTo(2);
        assertThat(tracker.committable()).isEqualTo(4);
    }

    @Test
    void awaitIdleWaitsForActiveRecords() throws Exception {
        tracker.started();
        assertThat(tracker.awaitIdle(System.nanoTime() + 1_000_000)).isFalse();
        Thread t = new Thread(tracker::stopped);
        t.start();
        assertThat(tracker.awaitIdle(System.nanoTime() + 10_000_000_000L)).isTrue();
        t.join();
    }
}
