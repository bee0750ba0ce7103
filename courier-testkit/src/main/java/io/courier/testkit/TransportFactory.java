package io.courier.testkit;

import io.courier.Transport;
import java.util.Map;

/**
 * Builds a transport inside a child JVM, for the fault tests that need a second process (the SIGKILL
 * test of the {@link TransportConformanceSuite}).
 *
 * <p>Implementations live in the transport's test code, are public and have a public no-argument
 * constructor: the child JVM loads them by class name. Everything a factory needs to reach the same
 * store as the parent (a database URL, a file path, a broker port) comes in {@code config}, which is
 * the map the test returned from {@link TransportConformanceSuite#childTransportConfig()}.
 *
 * <pre>{@code
 * public final class SqliteChildFactory implements TransportFactory {
 *     public Transport create(Map<String, String> config) {
 *         return SqlTransport.sqlite(Path.of(config.get("file")));
 *     }
 * }
 * }</pre>
 */
@FunctionalInterface
public interface TransportFactory {

    /**
     * Creates a transport over the store described by {@code config}.
     *
     * @param config the configuration the parent passed, never null
     * @throws Exception if the transport cannot be created (the child JVM then exits with an error)
     */
    Transport create(Map<String, String> config) throws Exception;
}
