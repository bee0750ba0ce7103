package io.courier.jdbc;

import io.courier.Message;
import io.courier.MissingDependencyException;
import io.courier.SubscriptionOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Runs in a child JVM whose classpath lacks one of the two drivers ({@link OptionalDriversTest}).
 * Prints one line {@code RESULT <result>}: {@code OK ...}, {@code CAUGHT <exception class> <detail>} for an expected
 * Courier exception, or {@code FAILED <throwable>} for anything else (a NoClassDefFoundError, say).
 *
 * <ul>
 *   <li>{@code postgres-roundtrip <url> <user>}: publishes one message and consumes it</li>
 *   <li>{@code postgres-unreachable <url>}: opens a transport on a port where nothing listens</li>
 *   <li>{@code sqlite-roundtrip <file>}: publishes one message and consumes it</li>
 *   <li>{@code ask-sqlite <file>} / {@code ask-postgres <url>}: asks for the database whose driver is missing</li>
 * </ul>
 */
public final class OneDriverMain {

    private OneDriverMain() {
    }

    public static void main(String[] args) {
        try {
            System.out.println("RESULT " + run(args));
        } catch (JdbcTransportException e) {
            System.out.println("RESULT CAUGHT " + e.getClass().getSimpleName() + " " + e.reason() + " " + e.getMessage());
        } catch (MissingDependencyException e) {
            System.out.println("RESULT CAUGHT " + e.getClass().getSimpleName() + " " + e.artifact() + " " + e.getMessage());
        } catch (Throwable e) {
            System.out.println("RESULT FAILED " + e);
            e.printStackTrace();
        }
        System.out.flush();
    }

    private static String run(String[] args) throws Exception {
        return switch (args[0]) {
            case "postgres-roundtrip" -> roundTrip(JdbcTransport.postgres(args[1], args[2], "").build());
            case "postgres-unreachable" -> {
                JdbcTransport.postgres(args[1], "nobody", "").connectTimeout(Duration.ofSeconds(2)).build().close();
                yield "OK opened";
            }
            case "sqlite-roundtrip" -> roundTrip(JdbcTransport.sqlite(Path.of(args[1])).build());
            case "ask-sqlite" -> "OK " + JdbcTransport.sqlite(Path.of(args[1]));
            case "ask-postgres" -> "OK " + JdbcTransport.postgres(args[1], "nobody", "");
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        };
    }

    private static String roundTrip(JdbcTransport transport) throws Exception {
        try (transport) {
            LinkedBlockingQueue<String> received = new LinkedBlockingQueue<>();
            transport.subscriber().subscribe(SubscriptionOptions.builder("orders", "billing").build(),
                    d -> received.add(d.message().payloadAsText()));
            transport.publisher().publish("orders", Message.ofText("hello")).join();
            String payload = received.poll(30, TimeUnit.SECONDS);
            return "OK " + transport.name() + " received " + payload;
        }
    }
}
