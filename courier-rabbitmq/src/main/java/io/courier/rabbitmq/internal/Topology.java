package io.courier.rabbitmq.internal;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ShutdownSignalException;
import io.courier.CourierException;
import io.courier.rabbitmq.QueueType;
import io.courier.rabbitmq.RabbitMqConfig;
import io.courier.rabbitmq.TopicTopology;
import io.courier.rabbitmq.TopologyMismatchException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Declares what the transport needs on the broker, idempotently and once per transport (until a
 * recovery or a channel error clears the cache): topic exchanges, group queues and their bindings,
 * the delay ladder and the per-topic release queues. A declaration that conflicts with an existing
 * entity fails with a {@link TopologyMismatchException} naming the argument. Thread-safe; declarations
 * are serialized on one channel of the publishing connection.
 */
public final class Topology {

    private static final Logger log = LoggerFactory.getLogger(Topology.class);
    /** A members queue nobody consumes any more is deleted by the broker after a day. */
    private static final int MEMBERS_QUEUE_EXPIRY_MILLIS = 24 * 60 * 60 * 1000;
    private static final Pattern INEQUIVALENT = Pattern.compile("inequivalent arg '([^']+)' for (queue|exchange) '([^']*)'");

    /**
     * Where a topic's messages are published.
     *
     * @param exchange   the exchange
     * @param routingKey the routing key
     */
    public record Route(String exchange, String routingKey) {
    }

    @FunctionalInterface
    private interface Declaration {
        void run(Channel channel) throws IOException;
    }

    private final RabbitMqConfig config;
    private final ConnectionWatch connection;
    private final DelayLadder ladder;
    /** Topics whose exchange (and pre-declared groups) are declared, with where to publish them. */
    private final Map<String, Route> declaredTopics = new ConcurrentHashMap<>();
    private final Set<String> declaredQueues = ConcurrentHashMap.newKeySet();
    private final Set<String> declaredReleases = ConcurrentHashMap.newKeySet();
    private final Map<String, List<String>> declaredPartitionedGroups = new ConcurrentHashMap<>();
    private volatile boolean ladderDeclared;
    private Channel channel;

    /** Declarations go through {@code connection}. */
    public Topology(RabbitMqConfig config, ConnectionWatch connection, DelayLadder ladder) {
        this.config = config;
        this.connection = connection;
        this.ladder = ladder;
    }

    /** The delay ladder. */
    public DelayLadder ladder() {
        return ladder;
    }

    /**
     * Declares {@code topic}'s exchange and the queues of its pre-declared groups (once), and returns
     * where its messages are published.
     */
    public Route topicRoute(String topic) {
        Route route = declaredTopics.get(topic);
        if (route != null) {
            return route;   // the common case: on every publish
        }
        TopicTopology t = config.topologyFor(topic);
        declare("declare the exchange of topic '" + topic + "'", ch -> declareExchange(ch, t));
        for (String group : config.declaredGroups().getOrDefault(topic, Set.of())) {
            declareGroup(topic, group);
        }
        route = new Route(t.exchange(), t.routingKey());
        declaredTopics.put(topic, route);
        return route;
    }

    /**
     * Declares {@code group}'s queue on {@code topic} with its bindings (to the topic's exchange and, for
     * retries, to the delay ladder), once; returns the queue name.
     */
    public String declareGroup(String topic, String group) {
        if (config.keyOrdered()) {
            declarePartitionedGroup(topic, group);
            return RabbitMqConfig.groupQueueName(topic, group);
        }
        String queue = RabbitMqConfig.groupQueueName(topic, group);
        int bytes = queue.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > 255) {
            throw new IllegalArgumentException("queue name '<topic>.<group>' must be at most 255 bytes, but was " + bytes
                    + " for topic '" + topic + "' and group '" + group + "'");
        }
        if (declaredQueues.contains(queue)) {
            return queue;
        }
        ensureLadder();
        TopicTopology t = config.topologyFor(topic);
        declare("declare queue '" + queue + "' of group '" + group + "' on topic '" + topic + "'", ch -> {
            declareExchange(ch, t);
            Map<String, Object> args = new LinkedHashMap<>(config.queueArguments());
            if (config.queueType() == QueueType.QUORUM) {
                args.put("x-queue-type", "quorum");
            }
            ch.queueDeclare(queue, config.durable(), false, false, args);
            Map<String, Object> bindingArgs = t.bindingArguments().isEmpty() ? null : t.bindingArguments();
            for (String key : t.bindingKeys()) {
                ch.queueBind(queue, t.exchange(), key, bindingArgs);
            }
            ch.queueBind(queue, ladder.deliverExchange(), ladder.deliveryBindingKey(DelayLadder.queueToken(queue)));
        });
        declaredQueues.add(queue);
        return queue;
    }

    /**
     * Key-ordered mode: declares (once) {@code group}'s partition queues on {@code topic}, each with
     * {@code x-single-active-consumer}, bound to the topic's exchange with its partition routing key and
     * to the delay ladder (for retries); returns the partition queues by partition.
     */
    public List<String> declarePartitionedGroup(String topic, String group) {
        List<String> queues = declaredPartitionedGroups.get(RabbitMqConfig.groupQueueName(topic, group));
        if (queues != null) {
            return queues;
        }
        int partitions = config.keyOrderingPartitions();
        String last = RabbitMqConfig.partitionQueueName(topic, group, partitions - 1);
        String members = membersQueue(topic, group);
        for (String name : List.of(last, members)) {
            int bytes = name.getBytes(StandardCharsets.UTF_8).length;
            if (bytes > 255) {
                throw new IllegalArgumentException("queue names of a key-ordered group must be at most 255 bytes, but '" + name
                        + "' has " + bytes + " (topic '" + topic + "', group '" + group + "')");
            }
        }
        ensureLadder();
        TopicTopology t = config.topologyFor(topic);
        List<String> names = new ArrayList<>(partitions);
        for (int p = 0; p < partitions; p++) {
            names.add(RabbitMqConfig.partitionQueueName(topic, group, p));
        }
        declare("declare the " + partitions + " partition queues '" + names.get(0) + "' ... of group '" + group + "' on topic '"
                + topic + "'", ch -> {
            declareExchange(ch, t);
            for (int p = 0; p < partitions; p++) {
                String queue = names.get(p);
                Map<String, Object> args = new LinkedHashMap<>(config.queueArguments());
                if (config.queueType() == QueueType.QUORUM) {
                    args.put("x-queue-type", "quorum");
                }
                args.put("x-single-active-consumer", true);
                ch.queueDeclare(queue, config.durable(), false, false, args);
                ch.queueBind(queue, t.exchange(), partitionRoutingKey(p));
                ch.queueBind(queue, ladder.deliverExchange(), ladder.deliveryBindingKey(DelayLadder.queueToken(queue)));
            }
        });
        List<String> result = List.copyOf(names);
        declaredPartitionedGroups.put(RabbitMqConfig.groupQueueName(topic, group), result);
        return result;
    }

    /**
     * The queue whose consumer count is the number of subscriptions of a key-ordered group: each
     * subscription consumes it; nothing is ever published to it.
     */
    public static String membersQueue(String topic, String group) {
        return RabbitMqConfig.groupQueueName(topic, group) + ".members";
    }

    /** Declares {@code group}'s members queue on {@code channel}: transient, deleted by the broker after a day unused. */
    static void declareMembersQueue(Channel channel, String queue) throws IOException {
        channel.queueDeclare(queue, false, false, false, Map.of("x-queue-type", "classic", "x-expires", MEMBERS_QUEUE_EXPIRY_MILLIS));
    }

    /** The routing key of partition {@code partition} in key-ordered mode. */
    public static String partitionRoutingKey(int partition) {
        return "partition-" + partition;
    }

    /**
     * Key-ordered mode: declares (once) the release queue of partition {@code partition} of {@code
     * topic}, which hands delayed messages to the topic's exchange with that partition's routing key,
     * and returns the destination token to put in the delay routing key.
     */
    public String delayedTopicToken(String topic, int partition) {
        String token = DelayLadder.topicPartitionToken(topic, partition);
        String release = ladder.releaseQueue(topic, partition);
        if (declaredReleases.contains(release)) {
            return token;
        }
        ensureLadder();
        TopicTopology t = config.topologyFor(topic);
        declare("declare the delay release queue '" + release + "' of topic '" + topic + "'", ch -> {
            declareExchange(ch, t);
            Map<String, Object> args = Map.of(
                    "x-message-ttl", 0,
                    "x-dead-letter-exchange", t.exchange(),
                    "x-dead-letter-routing-key", partitionRoutingKey(partition));
            ch.queueDeclare(release, true, false, false, args);
            ch.queueBind(release, ladder.deliverExchange(), ladder.deliveryBindingKey(token));
        });
        declaredReleases.add(release);
        return token;
    }

    /**
     * Declares (once) the release queue that hands delayed messages of {@code topic} to the topic's
     * exchange, and returns the destination token to put in the delay routing key.
     */
    public String delayedTopicToken(String topic) {
        String token = DelayLadder.topicToken(topic);
        if (declaredReleases.contains(topic)) {
            return token;
        }
        ensureLadder();
        TopicTopology t = config.topologyFor(topic);
        String release = ladder.releaseQueue(topic);
        declare("declare the delay release queue '" + release + "' of topic '" + topic + "'", ch -> {
            declareExchange(ch, t);
            Map<String, Object> args = Map.of(
                    "x-message-ttl", 0,
                    "x-dead-letter-exchange", t.exchange(),
                    "x-dead-letter-routing-key", t.routingKey());
            ch.queueDeclare(release, true, false, false, args);
            ch.queueBind(release, ladder.deliverExchange(), ladder.deliveryBindingKey(token));
        });
        declaredReleases.add(topic);
        return token;
    }

    /** Declares the delay ladder once. */
    public void ensureLadder() {
        if (!ladderDeclared) {
            declare("declare the delay queues '" + ladder.levelName(0) + "' ... '" + ladder.deliverExchange() + "'", ladder::declare);
            ladderDeclared = true;
        }
    }

    /** Forgets what was declared, so it is declared again on next use (after a recovery or a channel error). */
    public void invalidate() {
        declaredTopics.clear();
        declaredQueues.clear();
        declaredReleases.clear();
        declaredPartitionedGroups.clear();
        ladderDeclared = false;
    }

    private void declareExchange(Channel ch, TopicTopology t) throws IOException {
        ch.exchangeDeclare(t.exchange(), t.exchangeType().amqpName(), config.durable(), false, null);
    }

    private synchronized void declare(String what, Declaration declaration) {
        try {
            if (channel == null || !channel.isOpen()) {
                discardChannel();
                channel = connection.connection().createChannel();
                if (channel == null) {
                    throw new CourierException("cannot " + what + ": RabbitMQ refused to open a channel (channel limit reached)");
                }
            }
            declaration.run(channel);
        } catch (IOException | ShutdownSignalException e) {
            discardChannel();
            throw translate(what, e);
        }
    }

    private void discardChannel() {
        Channel ch = channel;
        channel = null;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException | java.util.concurrent.TimeoutException | ShutdownSignalException e) {
                log.trace("closing a failed topology channel", e);
            }
        }
    }

    /** A precise exception for a failed declaration: {@link TopologyMismatchException} for a PRECONDITION_FAILED mismatch. */
    static CourierException translate(String what, Exception e) {
        ShutdownSignalException sse = null;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ShutdownSignalException s) {
                sse = s;
                break;
            }
        }
        if (sse != null && sse.getReason() instanceof AMQP.Channel.Close close) {
            String text = close.getReplyText();
            Matcher m = INEQUIVALENT.matcher(text);
            if (close.getReplyCode() == AMQP.PRECONDITION_FAILED && m.find()) {
                return new TopologyMismatchException(m.group(2), m.group(3), m.group(1), text);
            }
            return new CourierException("cannot " + what + ": RabbitMQ replied " + close.getReplyCode() + " " + text, e);
        }
        if (sse != null && sse.getReason() instanceof AMQP.Connection.Close close) {
            return new CourierException("cannot " + what + ": the connection was closed: " + close.getReplyCode() + " " + close.getReplyText(), e);
        }
        return new CourierException("cannot " + what + ": " + e, e);
    }
}
