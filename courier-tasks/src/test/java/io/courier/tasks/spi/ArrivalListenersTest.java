package io.courier.tasks.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class ArrivalListenersTest {

    private final ArrivalListeners listeners = new ArrivalListeners();

    /** Records what it is told, as text. */
    private static class Recording implements ArrivalListener {
        final List<String> calls = new CopyOnWriteArrayList<>();

        @Override
        public void ready(String queue, int count) {
            calls.add("ready " + queue + " " + count);
        }

        @Override
        public void scheduled(String queue, Instant dueAt) {
            calls.add("scheduled " + queue + " " + dueAt.toEpochMilli());
        }

        @Override
        public void missed() {
            calls.add("missed");
        }
    }

    @Test
    void messagesInTextFormReachTheSubscribersOfTheirQueueOnly() {
        Recording critical = new Recording();
        Recording both = new Recording();
        listeners.add(Set.of("critical"), critical);
        listeners.add(List.of("critical", "low"), both);

        listeners.deliver("critical", ArrivalListeners.readyMessage(3));
        listeners.deliver("low", ArrivalListeners.scheduledMessage(Instant.ofEpochMilli(1_700_000_000_123L)));

        assertThat(critical.calls).containsExactly("ready critical 3");
        assertThat(both.calls).containsExactly("ready critical 3", "scheduled low 1700000000123");
        assertThat(listeners.queues()).containsExactly("critical", "low");
    }

    @Test
    void aMessageThisVersionCannotReadMakesTheQueuesSubscribersLookOnce() {
        Recording r = new Recording();
        listeners.add(Set.of("default"), r);

        listeners.deliver("default", "x42");
        listeners.deliver("default", "r");
        listeners.deliver("default", "s12ab");

        assertThat(r.calls).containsExactly("missed", "missed", "missed");
    }

    @Test
    void aListenerThatThrowsDoesNotKeepTheOthersFromHearing() {
        Recording r = new Recording();
        listeners.add(Set.of("default"), new Recording() {
            @Override
            public void ready(String queue, int count) {
                throw new IllegalStateException("boom");
            }
        });
        listeners.add(Set.of("default"), r);

        listeners.ready("default", 1);

        assertThat(r.calls).containsExactly("ready default 1");
    }

    @Test
    void aClosedSubscriptionHearsNothingMore() {
        Recording r = new Recording();
        TaskArrivals.Subscription s = listeners.add(Set.of("default"), r);

        s.close();
        s.close();
        listeners.ready("default", 1);
        listeners.missed();

        assertThat(r.calls).isEmpty();
        assertThat(listeners.isEmpty()).isTrue();
    }
}
