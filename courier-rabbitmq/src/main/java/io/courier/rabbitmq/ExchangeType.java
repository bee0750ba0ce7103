package io.courier.rabbitmq;

/** The AMQP 0-9-1 exchange types a Courier topic can be published through. */
public enum ExchangeType {
    /** Routes to queues whose binding key equals the routing key. */
    DIRECT("direct"),
    /** Routes by dot-separated routing-key patterns ({@code *} one word, {@code #} zero or more). The default. */
    TOPIC("topic"),
    /** Routes to every bound queue, ignoring the routing key. */
    FANOUT("fanout"),
    /** Routes by message headers matched against binding arguments ({@code x-match} all or any). */
    HEADERS("headers");

    private final String amqpName;

    ExchangeType(String amqpName) {
        this.amqpName = amqpName;
    }

    /** The type name as the broker knows it, e.g. {@code topic}. */
    public String amqpName() {
        return amqpName;
    }
}
