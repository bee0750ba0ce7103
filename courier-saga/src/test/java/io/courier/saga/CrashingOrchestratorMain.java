package io.courier.saga;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.courier.jdbc.JdbcTransport;
import io.courier.saga.OrderSaga.Order;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;

/**
 * An orchestrator in a process of its own that halts (as SIGKILL would: no shutdown hooks, no
 * cleanup) at its N-th commit of a saga transaction (starting the saga, applying a reply, firing a
 * timer; the SQL transport's own claims are not counted), just before or just after it. Arguments: table prefix,
 * saga id, amount, N (0: never), {@code before} or {@code after}. Starts one order saga, waits
 * for it to end and prints {@code FINAL <state> COMMITS <n>}.
 */
public final class CrashingOrchestratorMain {

    static final int HALTED = 77;

    private CrashingOrchestratorMain() {
    }

    public static void main(String[] args) throws Exception {
        String prefix = args[0];
        String sagaId = args[1];
        long amount = Long.parseLong(args[2]);
        int crashAt = Integer.parseInt(args[3]);
        boolean before = "before".equals(args[4]);
        AtomicInteger commits = new AtomicInteger();
        HikariConfig hc = new HikariConfig();
        hc.setJdbcUrl(SagaTestSupport.PG_URL);
        hc.setUsername("postgres");
        hc.setMaximumPoolSize(8);
        try (HikariDataSource pool = new HikariDataSource(hc)) {
            DataSource crashing = crashing(pool, commits, crashAt, before);
            try (JdbcTransport db = JdbcTransport.postgres(crashing).tablePrefix(prefix).build()) {
                SagaDefinition<Order> saga = OrderSaga.definition(null, prefix, Duration.ofSeconds(5), TimeoutAction.RETRY);
                try (SagaOrchestrator sagas = SagaOrchestrator.builder(db).saga(saga).replyLeaseTimeout(Duration.ofSeconds(1))
                        .timerInterval(Duration.ofMillis(50)).start()) {
                    try (Connection tx = db.dataSource().getConnection()) {
                        tx.setAutoCommit(false);
                        sagas.begin(tx, saga, sagaId, new Order(sagaId, "sku-1", 1, amount, null));
                        tx.commit();
                    }
                    SagaState state;
                    do {
                        Thread.sleep(20);
                        state = sagas.operations().find(sagaId).orElseThrow().state();
                    } while (!state.isFinalOrHeld());
                    System.out.println("FINAL " + state + " COMMITS " + commits.get());
                    System.out.flush();
                }
            }
        }
    }

    private static DataSource crashing(DataSource real, AtomicInteger commits, int crashAt, boolean before) {
        InvocationHandler ds = (proxy, method, args) -> {
            Object result = invoke(real, method, args);
            if (result instanceof Connection c) {
                return Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
                        (p, m, a) -> {
                            if (m.getName().equals("commit") && bySaga()) {
                                int n = commits.incrementAndGet();
                                if (n == crashAt && before) {
                                    Runtime.getRuntime().halt(HALTED);
                                }
                                Object r = invoke(c, m, a);
                                if (n == crashAt) {
                                    Runtime.getRuntime().halt(HALTED);
                                }
                                return r;
                            }
                            return invoke(c, m, a);
                        });
            }
            return result;
        };
        return (DataSource) Proxy.newProxyInstance(DataSource.class.getClassLoader(), new Class<?>[] {DataSource.class}, ds);
    }

    /** Whether the commit comes from the saga code (a transition), not from the transport's own claims. */
    private static boolean bySaga() {
        return StackWalker.getInstance().walk(frames -> frames.anyMatch(f -> f.getClassName().startsWith("io.courier.saga.")
                && !f.getClassName().startsWith(CrashingOrchestratorMain.class.getName() + "$")));
    }

    private static Object invoke(Object target, java.lang.reflect.Method m, Object[] args) throws Throwable {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

}
