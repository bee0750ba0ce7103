package io.courier.redis.internal;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Acknowledges keyed entries under key ordering: like {@link AckBatcher} (the ids that arrive while a
 * call is in flight go into the next one), but each call is the {@link Scripts#ACK_KEYED} script,
 * which also removes every entry from its key list and reports the key's new head, so the owner can
 * start the next entry of that key without another round trip.
 *
 * <p>A failed call leaves the entries pending (redelivered after their lease); their callbacks get
 * {@code null} as the new head.
 */
final class KeyedAckBatcher {

    private static final Logger log = LoggerFactory.getLogger(KeyedAckBatcher.class);
    private static final int MAX_PER_CALL = 200;

    private record Pending(byte[] tag, byte[] keyList, Consumer<String> done) {
    }

    private final RedisAsyncCommands<byte[], byte[]> commands;
    private final byte[] stream;
    private final byte[] retryStream;
    private final byte[] group;
    private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean flushing = new AtomicBoolean();

    KeyedAckBatcher(RedisAsyncCommands<byte[], byte[]> commands, byte[] stream, byte[] retryStream, byte[] group) {
        this.commands = commands;
        this.stream = stream;
        this.retryStream = retryStream;
        this.group = group;
    }

    /** Acknowledges the entry {@code tag} ({@code m:<id>} or {@code r:<id>}); {@code done} gets the key's new head. */
    void ack(String tag, byte[] keyList, Consumer<String> done) {
        queue.add(new Pending(EntryCodec.bytes(tag), keyList, done));
        flush();
    }

    private void flush() {
        while (!queue.isEmpty() && flushing.compareAndSet(false, true)) {
            List<Pending> batch = new ArrayList<>();
            Pending p;
            while (batch.size() < MAX_PER_CALL && (p = queue.poll()) != null) {
                batch.add(p);
            }
            if (batch.isEmpty()) {
                flushing.set(false);
                continue;
            }
            byte[][] keys = new byte[2 + batch.size()][];
            byte[][] args = new byte[1 + batch.size()][];
            keys[0] = stream;
            keys[1] = retryStream;
            args[0] = group;
            for (int i = 0; i < batch.size(); i++) {
                keys[2 + i] = batch.get(i).keyList();
                args[1 + i] = batch.get(i).tag();
            }
            Scripts.ACK_KEYED.<List<Object>>run(commands, ScriptOutputType.MULTI, keys, args).whenComplete((heads, e) -> {
                if (e != null) {
                    log.warn("acknowledging {} keyed entries on {} failed; they stay pending and will be redelivered after"
                            + " their lease: {}", batch.size(), EntryCodec.text(stream), e.toString());
                }
                for (int i = 0; i < batch.size(); i++) {
                    String head = null;
                    if (heads != null && i < heads.size() && heads.get(i) instanceof byte[] b && b.length > 0) {
                        head = EntryCodec.text(b);
                    }
                    batch.get(i).done().accept(head);
                }
                flushing.set(false);
                flush();
            });
            return;
        }
    }
}
