package io.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.courier.BatchPublishException;
import io.courier.Message;
import io.courier.MessageTooLargeException;
import io.courier.PublishResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * RabbitMQ refuses a message over its {@code max_message_size} by closing the channel with
 * {@code 406 PRECONDITION_FAILED}: the publish fails with {@link MessageTooLargeException} (it was
 * not stored), and the publisher goes on publishing on a new channel. The broker's limit is read, not
 * changed: the test publishes one byte over it (128 MiB by default).
 */
class BrokerMessageSizeTest {

    private RabbitBroker broker;
    private int brokerLimit;

    @BeforeEach
    void setUp() {
        broker = new RabbitBroker();
        // read-only: the limit the running broker enforces
        Matcher m = Pattern.compile("\\{max_message_size,(\\d+)}")
                .matcher(RabbitBroker.rabbitmqctl(Duration.ofSeconds(30), "environment"));
        brokerLimit = m.find() ? Integer.parseInt(m.group(1)) : 128 * 1024 * 1024;
    }

    @AfterEach
    void tearDown() {
        broker.close();
    }

    @Test
    void aMessageOverTheBrokersMaxMessageSizeIsTooLargeNotStoredAndLaterPublishesWork() throws Exception {
        String topic = broker.topic("oversize", "g");
        try (RabbitMqTransport transport = transportWithGroup(topic)) {
            transport.publisher().publish(topic, Message.ofText("before")).get(30, TimeUnit.SECONDS);

            Message big = Message.of(new byte[brokerLimit + 1]);
            assertThatThrownBy(() -> transport.publisher().publish(topic, big).join())
                    .isInstanceOf(CompletionException.class)
                    .cause()
                    .isInstanceOfSatisfying(MessageTooLargeException.class, e -> {
                        assertThat(e.size()).isEqualTo(brokerLimit + 1);
                        assertThat(e.limit()).isEqualTo(brokerLimit);
                    })
                    .hasMessageStartingWith("message " + big.id() + " to topic '" + topic
                            + "' was refused as too large by RabbitMQ and not published")
                    .hasMessageContaining("406 PRECONDITION_FAILED")
                    .hasMessageNotContaining("may or may not");

            // The only publishing channel was closed by the broker: the next publishes use a new one.
            List<CompletableFuture<PublishResult>> after = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                after.add(transport.publisher().publish(topic, Message.ofText("after-" + i)));
            }
            for (CompletableFuture<PublishResult> f : after) {
                f.get(30, TimeUnit.SECONDS);
            }
            assertThat(broker.messageCount(RabbitMqConfig.groupQueueName(topic, "g"))).isEqualTo(21);
        }
    }

    @Test
    void messagesPipelinedBehindARefusedOneAreEitherPublishedOrSaidNotToBe() throws Exception {
        String topic = broker.topic("oversize-batch", "g");
        try (RabbitMqTransport transport = transportWithGroup(topic)) {
            Message big = Message.of(new byte[brokerLimit + 1]);
            List<Message> batch = List.of(big, Message.ofText("second"), Message.ofText("third"));

            BatchPublishException failure = (BatchPublishException) catchThrowable(
                    () -> transport.publisher().publishAll(topic, batch).join()).getCause();

            assertThat(failure.outcomes()).hasSize(3);
            assertThat(failure.outcomes().get(0).failure()).containsInstanceOf(MessageTooLargeException.class);
            long published = 0;
            for (int i = 1; i < 3; i++) {
                BatchPublishException.Outcome o = failure.outcomes().get(i);
                if (o.result().isPresent()) {
                    published++;   // written after the broker closed the channel: sent again on a new one
                } else {
                    assertThat(o.failure().orElseThrow()).hasMessageContaining("was not published: RabbitMQ discarded it because it followed message " + big.id());
                }
            }
            transport.publisher().publish(topic, Message.ofText("after")).get(30, TimeUnit.SECONDS);
            assertThat(broker.messageCount(RabbitMqConfig.groupQueueName(topic, "g"))).isEqualTo(published + 1);
        }
    }

    /**
     * A transport whose own limit lets a payload one byte over the broker's pass, publishing on one
     * channel (so that the broker closes the channel every publish uses), with group {@code g} of
     * {@code topic} declared.
     */
    private RabbitMqTransport transportWithGroup(String topic) {
        RabbitMqTransport transport = RabbitMqTransport.connect(RabbitBroker.config()
                .maxPayloadBytes(brokerLimit + 1).publisherChannels(1).publishConfirmTimeout(Duration.ofSeconds(30)).build());
        transport.declareGroup(topic, "g");
        return transport;
    }
}
