package io.courier.saga;

import io.courier.Delivery;
import io.courier.Handler;
import io.courier.Message;
import io.courier.Publisher;
import io.courier.jdbc.JdbcTransport;
import io.courier.saga.internal.SagaStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Handlers for the participants of a saga: they receive a step's command, do the work, and reply
 * with {@link SagaReply#success()}, {@link SagaReply#failure(String)} (a business refusal, from a
 * returned reply or a thrown {@link SagaFailure}) or an error (any other exception). The reply goes
 * to the command's reply topic through {@code replies}, and the command is acknowledged only after
 * the reply was published (acknowledged by its broker).
 *
 * <pre>{@code
 * rabbitmq.subscriber().subscribe("inventory.reserve", "inventory",
 *         SagaParticipant.transactional(inventoryDb, rabbitmq.publisher(), (command, tx) -> {
 *             reserve(tx, command.payloadAs(Reserve.class));    // throws SagaFailure when out of stock
 *             return SagaReply.success();
 *         }));
 * }</pre>
 */
public final class SagaParticipant {

    private SagaParticipant() {
    }

    /** Does a step's work. */
    @FunctionalInterface
    public interface CommandHandler {
        /** Handles {@code command}; throw {@link SagaFailure} to refuse for business reasons. */
        SagaReply handle(SagaCommand command) throws Exception;
    }

    /** Does a step's work in a database transaction. */
    @FunctionalInterface
    public interface TransactionalCommandHandler {
        /**
         * Handles {@code command} using {@code transaction} (do not commit, roll back or close it);
         * throw {@link SagaFailure} to refuse for business reasons (the handler's writes are then
         * rolled back, the refusal is kept).
         */
        SagaReply handle(SagaCommand command, Connection transaction) throws Exception;
    }

    /**
     * A participant that is idempotent on its own: the handler runs for every delivery of a command
     * (use {@link SagaCommand#key()} to recognise repeats). Other exceptions than {@link SagaFailure}
     * are replied as {@link SagaReply.Outcome#ERROR}, which the orchestrator retries.
     */
    public static Handler of(Publisher replies, CommandHandler handler) {
        Objects.requireNonNull(replies, "replies");
        Objects.requireNonNull(handler, "handler");
        return delivery -> {
            SagaCommand command = SagaCommand.from(delivery.message());
            SagaReply reply;
            try {
                reply = Objects.requireNonNull(handler.handle(command), "the participant's handler returned no reply");
            } catch (SagaFailure f) {
                reply = SagaReply.failure(f.getMessage());
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                reply = SagaReply.error(e.toString());
            }
            send(replies, command, reply);
        };
    }

    /**
     * A participant whose work happens in a transaction of {@code database} together with the record
     * of its reply (table {@code <prefix>saga_replies}, by {@link SagaCommand#key()}). A command that
     * comes again (a duplicate, or a later attempt after the reply was lost or late) does not run the
     * handler again: the stored reply is sent again. So each step's effect happens once. A technical
     * error rolls everything back and is replied as an error; the next attempt runs the handler.
     */
    public static Handler transactional(JdbcTransport database, Publisher replies, TransactionalCommandHandler handler) {
        Objects.requireNonNull(database, "database");
        Objects.requireNonNull(replies, "replies");
        Objects.requireNonNull(handler, "handler");
        SagaStore store;
        try {
            store = SagaStore.open(database.dataSource(), database.tablePrefix());
        } catch (SQLException e) {
            throw new io.courier.jdbc.JdbcTransportException(io.courier.jdbc.JdbcTransportException.Reason.SCHEMA,
                    "opening the saga tables of " + database + " failed: " + e.getMessage(), e);
        }
        return delivery -> {
            SagaCommand command = SagaCommand.from(delivery.message());
            SagaReply reply = handleOnce(database, store, handler, command);
            send(replies, command, reply);
        };
    }

    private static SagaReply handleOnce(JdbcTransport database, SagaStore store, TransactionalCommandHandler handler,
                                        SagaCommand command) throws Exception {
        try (Connection c = database.dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                // The claim is the first statement: a write, so SQLite's write lock is held before anything is read.
                if (!store.claimReply(c, command.key(), database.clock().millis())) {
                    Optional<SagaReply> stored = store.storedReply(c, command.key());
                    c.commit();
                    return stored.orElseGet(() -> SagaReply.error("the reply of " + command.key() + " is not stored yet"));
                }
                SagaReply reply;
                Savepoint sp = c.setSavepoint();
                try {
                    reply = Objects.requireNonNull(handler.handle(command, c), "the participant's handler returned no reply");
                    if (reply.outcome() == SagaReply.Outcome.ERROR) {
                        c.rollback();            // nothing of an error is kept: the next attempt runs again
                        return reply;
                    }
                } catch (SagaFailure f) {
                    c.rollback(sp);
                    reply = SagaReply.failure(f.getMessage());
                }
                store.storeReply(c, command.key(), reply);
                c.commit();
                return reply;
            } catch (InterruptedException e) {
                c.rollback();
                throw e;
            } catch (Exception e) {
                c.rollback();
                return SagaReply.error(e.toString());
            }
        }
    }

    private static void send(Publisher replies, SagaCommand command, SagaReply reply) throws Exception {
        Message m = Message.builder().key(command.sagaId())
                .header(SagaCommand.SAGA_ID, command.sagaId())
                .header(SagaCommand.SAGA_TYPE, command.sagaType())
                .header(SagaCommand.STEP, command.step())
                .header(SagaCommand.STEP_INDEX, Integer.toString(command.stepIndex()))
                .header(SagaCommand.PHASE, command.compensation() ? "compensation" : "action")
                .header(SagaCommand.ATTEMPT, Integer.toString(command.attempt()))
                .header(SagaCommand.KEY, command.key())
                .header(SagaCommand.OUTCOME, reply.outcome().name())
                .header(SagaCommand.REASON, reply.reason())
                .payload(reply.payload())
                .build();
        replies.publish(command.replyTo(), m).get(60, TimeUnit.SECONDS);
    }

    /** For tests and tools: the command carried by {@code delivery}. */
    public static SagaCommand command(Delivery delivery) {
        return SagaCommand.from(delivery.message());
    }
}
