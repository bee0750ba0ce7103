package io.courier.docs;

import io.courier.Handler;
import io.courier.IdempotencyStore;
import io.courier.Message;
import io.courier.Publisher;
import io.courier.Router;
import io.courier.jdbc.JdbcTransport;
import io.courier.kafka.KafkaTransport;
import io.courier.outbox.Outbox;
import io.courier.saga.SagaDefinition;
import io.courier.saga.SagaOrchestrator;
import io.courier.middleware.RetryMiddleware;
import io.courier.redis.RedisConfig;
import io.courier.redis.RedisStreamsTransport;
import io.courier.tasks.spi.TaskStore;
import java.sql.Connection;
import java.time.Instant;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The default context of a documentation snippet: what the examples in README.md and docs/ take as
 * given. Statement and member blocks are compiled in a subclass, so they see these variables; every
 * block sees the nested types through a static import. Nothing here runs: the checker only compiles.
 *
 * <p>Add a variable or an example type here when a new page needs one, with the type the pages
 * use it as. A page that needs a name with another type gets its own context (see
 * {@link TaskDocContext}) and says so with {@code <!-- snippet: context=NAME -->}.
 */
@SuppressWarnings("unused")
public abstract class DocContext {

    // Courier objects the guides take as already built.
    protected JdbcTransport transport;
    protected Outbox outbox;
    protected SagaOrchestrator sagas;
    protected SagaDefinition<OrderPlaced> placeOrder;
    protected String sagaId;
    protected KafkaTransport kafka;
    protected RedisConfig redisConfig;
    protected RedisStreamsTransport redisTransport;
    protected Router router;
    protected Publisher publisher;
    protected Handler handler;
    protected IdempotencyStore store;
    protected RetryMiddleware retry;
    protected DataSource dataSource;

    // The application around them.
    protected final Logger log = LoggerFactory.getLogger(DocContext.class);
    protected String password;
    protected OrderPlaced order;
    protected byte[] json;
    protected long amount;
    protected Instant tonight;
    protected Mailer mailer;
    protected Profiles profiles;
    protected Alerts alerts;
    protected Invoices invoices;
    protected Audit audit;
    protected Billing billing;
    protected Images images;

    protected void bill(OrderPlaced order) {
    }

    protected void bill(Message message) {
    }

    protected void saveOrder(Connection connection, OrderPlaced order) {
    }

    protected void awaitShutdownSignal() throws InterruptedException {
    }

    /** An order event of the examples. */
    public record OrderPlaced(String id, String customer, long amountCents) {
    }

    /** The event bus examples' events. */
    public record UserCreated(String userId, String email) {
    }

    public record OrderCreated(String orderId, long amount) {
    }

    public record PaymentCompleted(String orderId) {
    }

    /** Application services the example handlers call. */
    public interface Mailer {
        void sendWelcome(String email);

        void send(Object email);
    }

    public interface Profiles {
        void create(String userId);
    }

    public interface Alerts {
        void raise(Throwable error);
    }

    public interface Invoices {
        void create(OrderCreated order);
    }

    public interface Audit {
        void record(Object event);
    }

    public interface Billing {
        void charge(OrderPlaced order);
    }

    public interface Images {
        void process(String type, byte[] payload);
    }

    /** "A store of your own" in the testkit guide: an idempotency store the reader writes. */
    public static final class MyIdempotencyStore {
        private MyIdempotencyStore() {
        }

        public static IdempotencyStore connect(String uri, String keyPrefix) {
            throw new UnsupportedOperationException("documentation only");
        }
    }

    /** "A store of your own" in the testkit guide: a task store the reader writes. */
    public static final class MyTaskStore {
        private MyTaskStore() {
        }

        public static TaskStore connect(String uri, String namespace) {
            throw new UnsupportedOperationException("documentation only");
        }

        public static void dropNamespace(String uri, String namespace) {
            throw new UnsupportedOperationException("documentation only");
        }
    }
}
