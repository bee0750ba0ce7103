package io.courier.rabbitmq;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Test access to the real broker on 127.0.0.1:5672 (guest/guest): a raw admin connection to inspect
 * and delete what tests create, and {@code rabbitmqctl} for broker-side state and faults.
 */
final class RabbitBroker implements AutoCloseable {

    static final String HOST = "127.0.0.1";
    static final int PORT = 5672;

    private Connection admin;
    private final Set<String> queues = ConcurrentHashMap.newKeySet();
    private final Set<String> exchanges = ConcurrentHashMap.newKeySet();

    RabbitBroker() {
        this.admin = connect();
    }

    private static Connection connect() {
        try {
            ConnectionFactory f = new ConnectionFactory();
            f.setHost(HOST);
            f.setPort(PORT);
            f.setAutomaticRecoveryEnabled(false);
            return f.newConnection("courier-test-admin");
        } catch (Exception e) {
            throw new IllegalStateException("RabbitMQ must be running on " + HOST + ":" + PORT + " (scripts/services)", e);
        }
    }

    /** The admin connection, reopened if a broker restart closed it. */
    private synchronized Connection admin() {
        if (!admin.isOpen()) {
            admin = connect();
        }
        return admin;
    }

    /** A config for the test broker with test-friendly timeouts. */
    static RabbitMqConfig.Builder config() {
        return RabbitMqConfig.builder()
                .host(HOST).port(PORT).credentials("guest", "guest")
                .connectionName("courier-test")
                .recoveryInterval(Duration.ofMillis(500))
                .publishConfirmTimeout(Duration.ofSeconds(5));
    }

    /** A unique topic name, remembered for cleanup together with its groups' queues. */
    String topic(String base, String... groups) {
        String topic = base + "-" + UUID.randomUUID().toString().substring(0, 8);
        exchanges.add(topic);
        queues.add("courier.delay.release." + topic);
        for (String g : groups) {
            queues.add(RabbitMqConfig.groupQueueName(topic, g));
        }
        return topic;
    }

    /** Remembers a queue for cleanup. */
    void track(String queue) {
        queues.add(queue);
    }

    /** Remembers an exchange for cleanup. */
    void trackExchange(String exchange) {
        exchanges.add(exchange);
    }

    /** Runs {@code action} on a fresh admin channel. */
    <T> T withChannel(ChannelAction<T> action) {
        try (Channel ch = admin().createChannel()) {
            return action.run(ch);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What {@link #withChannel} runs. */
    interface ChannelAction<T> {
        T run(Channel ch) throws IOException;
    }

    /** Ready messages in {@code queue}. */
    long messageCount(String queue) {
        return withChannel(ch -> ch.queueDeclarePassive(queue).getMessageCount());
    }

    /** True when {@code queue} exists. */
    boolean queueExists(String queue) {
        try (Channel ch = admin().createChannel()) {
            ch.queueDeclarePassive(queue);
            return true;
        } catch (IOException e) {
            return false;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * {@code [messages_ready, messages_unacknowledged]} of {@code queue} as {@code rabbitmqctl list_queues}
     * reports them.
     */
    long[] queueState(String queue) {
        for (String line : rabbitmqctl(Duration.ofSeconds(30), "list_queues", "-q", "--no-table-headers", "name", "messages_ready",
                "messages_unacknowledged").split("\n")) {
            String[] parts = line.trim().split("\\s+");
            if (parts.length == 3 && parts[0].equals(queue)) {
                return new long[] {Long.parseLong(parts[1]), Long.parseLong(parts[2])};
            }
        }
        throw new AssertionError("rabbitmqctl list_queues does not list " + queue);
    }

    /** Runs {@code rabbitmqctl args...}, failing on a non-zero exit; returns its output. */
    static String rabbitmqctl(Duration timeout, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add("rabbitmqctl");
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("rabbitmqctl " + String.join(" ", args) + " did not finish within " + timeout);
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new AssertionError("rabbitmqctl " + String.join(" ", args) + " exited " + p.exitValue() + ": " + out);
            }
            return out;
        } catch (IOException e) {
            throw new IllegalStateException("cannot run rabbitmqctl", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Deletes every queue and exchange remembered. */
    void cleanUp() {
        for (String q : queues) {
            try (Channel ch = admin().createChannel()) {
                ch.queueDelete(q);
            } catch (Exception e) {
                // already gone
            }
        }
        for (String x : exchanges) {
            try (Channel ch = admin().createChannel()) {
                ch.exchangeDelete(x);
            } catch (Exception e) {
                // already gone
            }
        }
        queues.clear();
        exchanges.clear();
    }

    @Override
    public void close() {
        cleanUp();
        try {
            admin().close();
        } catch (Exception e) {
            // broker may be gone
        }
    }
}
