package io.courier.testkit;

import java.util.ArrayDeque;
import java.util.Deque;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Closes what a test opened, after each test, last opened first, even when the test failed; a
 * failure to close one does not keep the others open (the first failure is thrown, later ones are
 * added to it as suppressed).
 *
 * <pre>{@code
 * @RegisterExtension
 * final Closer closer = new Closer();
 *
 * @BeforeEach
 * void cleanUpLast() {
 *     closer.add(() -> dropTables(prefix));           // added first, so it runs last
 * }
 *
 * @Test
 * void relays() {
 *     JdbcTransport db = closer.add(JdbcTransport.postgres(url, user, password).build());   // closed before the drop
 * }
 * }</pre>
 */
public final class Closer implements AfterEachCallback {

    private final Deque<AutoCloseable> open = new ArrayDeque<>();

    /** Closes {@code resource} after the test, before everything added earlier; returns it. */
    public synchronized <T extends AutoCloseable> T add(T resource) {
        open.push(resource);
        return resource;
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        Exception first = null;
        while (true) {
            AutoCloseable next;
            synchronized (this) {
                next = open.poll();
            }
            if (next == null) {
                break;
            }
            try {
                next.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
