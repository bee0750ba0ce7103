package io.courier.sql;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.pool.HikariPool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * The connections of one SQL module: a HikariCP pool this class creates for an SQLite file or a
 * PostgreSQL URL, which {@link #close()} closes, or a {@link DataSource} the caller passed in, which it
 * never closes. {@link #target()} names the database the way {@link SqlErrors} messages do.
 *
 * <pre>{@code
 * SqlPool pool = SqlPool.sqlite(Path.of("data/courier.db"), SqlPool.Settings.builder("courier-sqlite").build());
 * SqlPool pg = SqlPool.postgres("jdbc:postgresql://db/app", "app", secret, SqlPool.Settings.builder("courier-postgresql").build());
 * SqlPool given = SqlPool.given(dataSource, DatabaseKind.POSTGRESQL);  // close() leaves it open
 * }</pre>
 *
 * <p><b>Every pool:</b> {@link Settings#maxPoolSize()} connections at most, {@link Settings#minIdle()}
 * kept idle, a wait of at most {@link Settings#connectTimeout()} for a connection, and a validation
 * check of a connection that was idle bounded by a quarter of it (at least 250 ms; HikariCP's default of
 * 5 s came on top of the connect timeout when the network went silent). With {@link Settings#failFast()}
 * the factory fails at once when the first connection cannot be made; without it the pool starts empty
 * and the first use reports the precise error after up to the connect timeout (a database that is
 * still starting gets that long).
 *
 * <p><b>SQLite:</b> the file's parent directories are created; WAL journal with
 * {@code synchronous=NORMAL} (a commit survives a process crash; a power loss may lose the last commits);
 * {@link Settings#busyTimeout()} for other connections' write locks.
 *
 * <p><b>PostgreSQL:</b> the driver's socket connect timeout is the connect timeout (whole seconds, at
 * least 1) and connections report {@code ApplicationName=courier}.
 *
 * <p>Thread-safe.
 */
public final class SqlPool implements AutoCloseable {

    private final DataSource dataSource;
    private final HikariDataSource owned;
    private final DatabaseKind kind;
    private final String target;

    private SqlPool(DataSource dataSource, HikariDataSource owned, DatabaseKind kind, String target) {
        this.dataSource = dataSource;
        this.owned = owned;
        this.kind = kind;
        this.target = target;
    }

    /**
     * A pool for the SQLite file {@code file}, created with its parent directories on first use.
     *
     * @throws io.courier.MissingDependencyException when sqlite-jdbc is not on the classpath
     * @throws IOException  when the parent directories cannot be created
     * @throws SQLException when {@link Settings#failFast()} and the first connection fails
     */
    public static SqlPool sqlite(Path file, Settings settings) throws IOException, SQLException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(settings, "settings");
        DatabaseKind.SQLITE.requireDriver(SqlPool.class, "SqlPool.sqlite");
        Path absolute = file.toAbsolutePath();
        if (absolute.getParent() != null) {
            Files.createDirectories(absolute.getParent());
        }
        HikariConfig hc = config(settings);
        hc.setDataSource(SqliteDataSources.create(absolute, settings.busyTimeout(), settings.immediateTransactions()));
        return new SqlPool(null, start(hc), DatabaseKind.SQLITE, sqliteTarget(absolute));
    }

    /**
     * A pool for PostgreSQL at {@code jdbcUrl} (which must start with {@code jdbc:postgresql:}).
     *
     * @throws io.courier.MissingDependencyException when the PostgreSQL driver is not on the classpath
     * @throws SQLException when {@link Settings#failFast()} and the first connection fails
     */
    public static SqlPool postgres(String jdbcUrl, String user, String password, Settings settings) throws SQLException {
        Objects.requireNonNull(jdbcUrl, "jdbcUrl");
        Objects.requireNonNull(settings, "settings");
        DatabaseKind.POSTGRESQL.requireDriver(SqlPool.class, "SqlPool.postgres");
        HikariConfig hc = config(settings);
        hc.setJdbcUrl(jdbcUrl);
        hc.setUsername(user);
        hc.setPassword(password);
        hc.addDataSourceProperty("connectTimeout", Long.toString(Math.max(1, settings.connectTimeout().toSeconds())));
        hc.addDataSourceProperty("ApplicationName", "courier");
        return new SqlPool(null, start(hc), DatabaseKind.POSTGRESQL, postgresTarget(jdbcUrl, user));
    }

    /**
     * The caller's own data source, of {@code kind}: {@link #close()} leaves it open.
     *
     * @param kind the database it reaches, or null when the caller detects it later (it only shapes {@link #target()})
     */
    public static SqlPool given(DataSource dataSource, DatabaseKind kind) {
        Objects.requireNonNull(dataSource, "dataSource");
        return new SqlPool(dataSource, null, kind, givenTarget(kind));
    }

    /** {@code <database> (the given DataSource)}: how messages name a caller's data source of {@code kind} (null: unknown). */
    public static String givenTarget(DatabaseKind kind) {
        return (kind == null ? "the database" : kind.displayName()) + " (the given DataSource)";
    }

    /** {@code SQLite file <absolute path>}: how messages name an SQLite file. */
    public static String sqliteTarget(Path file) {
        return "SQLite file " + file.toAbsolutePath();
    }

    /** {@code PostgreSQL at <url> as user '<user>'}: how messages name a PostgreSQL database. */
    public static String postgresTarget(String jdbcUrl, String user) {
        return "PostgreSQL at " + jdbcUrl + " as user '" + user + "'";
    }

    /** The connections. Valid until {@link #close()} for a pool created here. */
    public DataSource dataSource() {
        return owned != null ? owned : dataSource;
    }

    /** The database kind; null for a {@linkplain #given given} data source whose kind was not said. */
    public DatabaseKind kind() {
        return kind;
    }

    /** The database as named in messages, e.g. {@code SQLite file /data/courier.db}. */
    public String target() {
        return target;
    }

    /** True when this class created the pool and {@link #close()} closes it. */
    public boolean owned() {
        return owned != null;
    }

    /** Closes the pool if it was created here; a given data source is left open. Idempotent. */
    @Override
    public void close() {
        if (owned != null) {
            owned.close();
        }
    }

    private static HikariConfig config(Settings settings) {
        HikariConfig hc = new HikariConfig();
        hc.setPoolName(settings.poolName());
        hc.setMaximumPoolSize(settings.maxPoolSize());
        hc.setMinimumIdle(settings.minIdle());
        hc.setConnectionTimeout(settings.connectTimeout().toMillis());
        hc.setValidationTimeout(Math.max(250, settings.connectTimeout().toMillis() / 4));
        hc.setInitializationFailTimeout(settings.failFast() ? 1 : -1);
        return hc;
    }

    private static HikariDataSource start(HikariConfig hc) throws SQLException {
        try {
            return new HikariDataSource(hc);
        } catch (HikariPool.PoolInitializationException e) {
            if (e.getCause() instanceof SQLException se) {
                throw se;
            }
            throw new SQLTransientConnectionException("cannot open a connection: " + e.getMessage(), e);
        }
    }

    /**
     * How a {@link SqlPool} sizes its pool and waits for connections. Immutable; build with
     * {@link #builder(String)}, change with {@link #toBuilder()}.
     */
    public static final class Settings {

        /** Default {@link #maxPoolSize()}: 10. */
        public static final int DEFAULT_MAX_POOL_SIZE = 10;
        /** Default {@link #minIdle()}: 2 (or the pool size, when smaller). */
        public static final int DEFAULT_MIN_IDLE = 2;
        /** Default {@link #connectTimeout()}: 5 s. */
        public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
        /** Default {@link #busyTimeout()}: 5 s. */
        public static final Duration DEFAULT_BUSY_TIMEOUT = Duration.ofSeconds(5);

        private final String poolName;
        private final int maxPoolSize;
        private final int minIdle;
        private final Duration connectTimeout;
        private final Duration busyTimeout;
        private final boolean immediateTransactions;
        private final boolean failFast;

        private Settings(Builder b) {
            this.poolName = b.poolName;
            this.maxPoolSize = b.maxPoolSize;
            this.minIdle = Math.min(b.minIdle, b.maxPoolSize);
            this.connectTimeout = b.connectTimeout;
            this.busyTimeout = b.busyTimeout;
            this.immediateTransactions = b.immediateTransactions;
            this.failFast = b.failFast;
        }

        /** Settings with every default, for a pool named {@code poolName} (e.g. {@code courier-sqlite}). */
        public static Builder builder(String poolName) {
            return new Builder(poolName);
        }

        /** A builder holding these settings. */
        public Builder toBuilder() {
            Builder b = new Builder(poolName);
            b.maxPoolSize = maxPoolSize;
            b.minIdle = minIdle;
            b.connectTimeout = connectTimeout;
            b.busyTimeout = busyTimeout;
            b.immediateTransactions = immediateTransactions;
            b.failFast = failFast;
            return b;
        }

        /** The pool's name (HikariCP's thread and metric names). */
        public String poolName() {
            return poolName;
        }

        /** Connections at most. */
        public int maxPoolSize() {
            return maxPoolSize;
        }

        /** Idle connections kept, at most {@link #maxPoolSize()}. */
        public int minIdle() {
            return minIdle;
        }

        /** The longest wait for a connection (and PostgreSQL's socket connect timeout). */
        public Duration connectTimeout() {
            return connectTimeout;
        }

        /** SQLite: how long a statement waits for another connection's write lock. */
        public Duration busyTimeout() {
            return busyTimeout;
        }

        /**
         * SQLite: true when a transaction begun by turning auto-commit off starts with
         * {@code BEGIN IMMEDIATE} (takes the write lock at once) instead of SQLite's deferred {@code BEGIN};
         * false by default. Transactions begun with {@link DatabaseKind#begin} are immediate either way.
         */
        public boolean immediateTransactions() {
            return immediateTransactions;
        }

        /** True when the factory fails at once if the first connection cannot be made; false by default. */
        public boolean failFast() {
            return failFast;
        }

        /** Builds {@link Settings}; validates each value as it is set. Not thread-safe. */
        public static final class Builder {
            private final String poolName;
            private int maxPoolSize = DEFAULT_MAX_POOL_SIZE;
            private int minIdle = DEFAULT_MIN_IDLE;
            private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
            private Duration busyTimeout = DEFAULT_BUSY_TIMEOUT;
            private boolean immediateTransactions;
            private boolean failFast;

            private Builder(String poolName) {
                this.poolName = Objects.requireNonNull(poolName, "poolName");
            }

            /** Connections at most: 1 .. 10,000 (default {@value Settings#DEFAULT_MAX_POOL_SIZE}). */
            public Builder maxPoolSize(int maxPoolSize) {
                if (maxPoolSize < 1 || maxPoolSize > 10_000) {
                    throw new IllegalArgumentException("maxPoolSize must be between 1 and 10000, but was " + maxPoolSize);
                }
                this.maxPoolSize = maxPoolSize;
                return this;
            }

            /** Idle connections kept: 0 .. the pool size (default {@value Settings#DEFAULT_MIN_IDLE}). */
            public Builder minIdle(int minIdle) {
                if (minIdle < 0) {
                    throw new IllegalArgumentException("minIdle must be >= 0, but was " + minIdle);
                }
                this.minIdle = minIdle;
                return this;
            }

            /** The longest wait for a connection: at least 250 ms (default 5 s). */
            public Builder connectTimeout(Duration connectTimeout) {
                if (connectTimeout == null || connectTimeout.toMillis() < 250) {
                    throw new IllegalArgumentException("connectTimeout must be at least PT0.25S, but was " + connectTimeout);
                }
                this.connectTimeout = connectTimeout;
                return this;
            }

            /** SQLite's busy timeout: at least 1 ms (default 5 s). */
            public Builder busyTimeout(Duration busyTimeout) {
                if (busyTimeout == null || busyTimeout.toMillis() < 1) {
                    throw new IllegalArgumentException("busyTimeout must be at least PT0.001S, but was " + busyTimeout);
                }
                this.busyTimeout = busyTimeout;
                return this;
            }

            /** See {@link Settings#immediateTransactions()}. */
            public Builder immediateTransactions(boolean immediateTransactions) {
                this.immediateTransactions = immediateTransactions;
                return this;
            }

            /** See {@link Settings#failFast()}. */
            public Builder failFast(boolean failFast) {
                this.failFast = failFast;
                return this;
            }

            /** The settings. */
            public Settings build() {
                return new Settings(this);
            }
        }
    }
}
