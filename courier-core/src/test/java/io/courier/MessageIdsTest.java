package io.courier;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;

class MessageIdsTest {

    @Test
    void generatedIdsAreVersion7UuidsCarryingTheirCreationMillisecond() {
        long before = System.currentTimeMillis();
        String id = Message.ofText("x").id();
        long after = System.currentTimeMillis();

        UUID uuid = UUID.fromString(id);
        assertThat(uuid.toString()).isEqualTo(id);
        assertThat(uuid.version()).isEqualTo(7);
        assertThat(uuid.variant()).isEqualTo(2);
        assertThat(uuid.getMostSignificantBits() >>> 16).isBetween(before, after);
    }

    @Test
    void idsOfLaterMillisecondsSortAfterEarlierOnes() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        String earlier = MessageIds.next(1_700_000_000_000L, random);
        String later = MessageIds.next(1_700_000_000_001L, random);
        String muchLater = MessageIds.next(1_800_000_000_000L, random);

        // As strings, which is how the SQL tables and the idempotency stores keep them.
        assertThat(earlier).isLessThan(later);
        assertThat(later).isLessThan(muchLater);
    }

    @Test
    void idsGeneratedOnManyThreadsInTheSameMillisecondsAreUnique() throws InterruptedException {
        Set<String> ids = ConcurrentHashMap.newKeySet();
        int threads = 8;
        int perThread = 50_000;
        List<Thread> started = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread thread = new Thread(() -> {
                for (int i = 0; i < perThread; i++) {
                    ids.add(MessageIds.next());
                }
            });
            thread.start();
            started.add(thread);
        }
        for (Thread thread : started) {
            thread.join();
        }

        assertThat(ids).hasSize(threads * perThread);
    }
}
