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

    private record Logged(Message message, Instant deliverAt) {
    }

    private final String name;
    private final List<Logged> log = new ArrayList<>();
    private final Map<String, GroupQueue> groups = new HashMap<>();

    TopicLog(String name) {
        this.name = name;
    }

    /** Appends to the log and to every group's queue; returns the message's sequence number. */
    synchronized long append(Message message, Instant deliverAt) {
        log.add(new Logged(message, deliverAt));
        for (GroupQueue q : groups.values()) {
            q.offer(message, deliverAt);
        }
        return log.size();
    }

    /** Appends several messages at once; returns the sequence number of the first. */
    synchronized long appendAll(List<Message> messages, Instant deliverAt) {
        long first = log.size() + 1;
        for (Message m : messages) {
            log.add(new Logged(m, deliverAt));
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
                for (Logged l : log) {
                    q.offer(l.message(), l.deliverAt());
                }
            }
            groups.put(group, q);
        }
        return q;
    }

    synchronized GroupQueue group(String group) {
        return groups.get(group);
    }
}
