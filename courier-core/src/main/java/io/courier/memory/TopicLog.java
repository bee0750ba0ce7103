package io.courier.memory;

import io.courier.Message;
import io.courier.StartPosition;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** One topic: its full log (for groups created later) and the queue of every group. Thread-safe. */
final class TopicLog {

    /** A message published with a delivery time; the others are logged as the bare {@link Message}. */
    private record Delayed(Message message, Instant deliverAt) {
    }

    private final String name;
    // Message (deliver at once) or Delayed: one object less per message kept for the whole log's life.
    private final List<Object> log = new ArrayList<>();
    private final Map<String, GroupQueue> groups = new HashMap<>();

    TopicLog(String name) {
        this.name = name;
    }

    /** Appends to the log and to every group's queue; returns the message's sequence number. */
    synchronized long append(Message message, Instant deliverAt) {
        log.add(logged(message, deliverAt));
        for (GroupQueue q : groups.values()) {
            q.offer(message, deliverAt);
        }
        return log.size();
    }

    /** Appends several messages at once; returns the sequence number of the first. */
    synchronized long appendAll(List<Message> messages, Instant deliverAt) {
        long first = log.size() + 1;
        for (Message m : messages) {
            log.add(logged(m, deliverAt));
        }
        for (GroupQueue q : groups.values()) {
            q.offerAll(messages, deliverAt);
        }
        return first;
    }

    synchronized GroupQueue groupFor(String group, StartPosition start, Clock clock) {
        GroupQueue q = groups.get(group);
        if (q == null) {
            q = new GroupQueue(name, group, clock);
            if (start == StartPosition.EARLIEST) {
                for (Object l : log) {
                    if (l instanceof Delayed d) {
                        q.offer(d.message(), d.deliverAt());
                    } else {
                        q.offer((Message) l, Instant.MIN);
                    }
                }
            }
            groups.put(group, q);
        }
        return q;
    }

    private static Object logged(Message message, Instant deliverAt) {
        return deliverAt.equals(Instant.MIN) ? message : new Delayed(message, deliverAt);
    }

    synchronized GroupQueue group(String group) {
        return groups.get(group);
    }
}
