package io.courier.redis.internal;

import io.lettuce.core.api.async.RedisAsyncCommands;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Acknowledges entries of one stream for one group, batching the ids that arrive while an
 * {@code XACK} is in flight into the next one. The first acknowledgement is sent at once, so a
 * lone message is never held back; under load one {@code XACK} carries many ids. For a group's
 * private retry stream the entries are also deleted ({@code XDEL}) after the acknowledgement.
 *
 * <p>A failed {@code XACK} (connection lost past the command timeout) leaves the entries pending:
 * they are redelivered once their lease expires, which is the at-least-once contract.
 *
 * <p>When an {@code XACK} completes (or fails), the {@code done} callback of each of its ids runs.
 */
final class AckBatcher {

    private static final Logger log = LoggerFactory.getLogger(AckBatcher.class);
    private static final int MAX_IDS_PER_ACK = 500;

    private record Pending(String id, Runnable done) {
    }

    private final RedisAsyncCommands<byte[], byte[]> commands;
    private final byte[] stream;
    private final byte[] group;
    private final boolean deleteAfterAck;
    private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean flushing = new AtomicBoolean();

    AckBatcher(RedisAsyncCommands<byte[], byte[]> commands, byte[] stream, byte[] group, boolean deleteAfterAck) {
        this.commands = commands;
        this.stream = stream;
        this.group = group;
        this.deleteAfterAck = deleteAfterAck;
    }

    /** Acknowledges entry {@code id}; {@code done} runs once the acknowledgement succeeded or failed. */
    void ack(String id, Runnable done) {
        queue.add(new Pending(id, done));
        flush();
    }

    private void flush() {
        while (!queue.isEmpty() && flushing.compareAndSet(false, true)) {
            List<Pending> batch = new ArrayList<>();
            Pending p;
            while (batch.size() < MAX_IDS_PER_ACK && (p = queue.poll()) != null) {
                batch.add(p);
            }
            if (batch.isEmpty()) {
                flushing.set(false);
                continue;
            }
            String[] ids = new String[batch.size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = batch.get(i).id();
            }
            commands.xack(stream, group, ids).whenComplete((n, e) -> {
                if (e != null) {
                    log.warn("XACK of {} entries on {} failed; they stay pending and will be redelivered after their lease: {}",
                            ids.length, EntryCodec.text(stream), e.toString());
                }
                if (e == null && deleteAfterAck) {
                    commands.xdel(stream, ids);
                }
                for (Pending done : batch) {
                    done.done().run();
                }
                flushing.set(false);
                flush();
            });
            return;
        }
    }
}
