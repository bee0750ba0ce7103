package io.courier.testkit.fault;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A child Java process running a main class on this JVM's classpath, for tests that need a second
 * process to kill. Its standard output is read line by line ({@link #lines()}, {@link #awaitLine});
 * the last lines of its standard error are kept for failure messages.
 *
 * <pre>{@code
 * try (ChildJvm child = ChildJvm.builder(KillableConsumerMain.class)
 *         .args("--topic=orders", "--group=billing")
 *         .systemProperty("db.url", url)
 *         .start()) {
 *     child.awaitLine(l -> l.startsWith("HANDLED "), Duration.ofSeconds(30));
 *     child.kill();                           // SIGKILL, no shutdown hooks, no graceful close
 * }                                           // close() kills it too if it is still alive
 * }</pre>
 *
 * <p>The child's standard input stays connected to this object; a child can watch it and exit when
 * it closes, so it never outlives a parent that died without closing it
 * ({@link KillableConsumerMain} does). Thread-safe.
 */
public final class ChildJvm implements AutoCloseable {

    private static final int STDERR_LINES_KEPT = 50;

    private final Process process;
    private final String description;
    private final List<String> lines = new ArrayList<>();
    private final Deque<String> stderrTail = new ArrayDeque<>();
    private final Thread stdoutReader;
    private final Thread stderrReader;

    private ChildJvm(Process process, String description) {
        this.process = process;
        this.description = description;
        this.stdoutReader = pump(process.getInputStream(), "stdout", line -> {
            synchronized (lines) {
                lines.add(line);
                lines.notifyAll();
            }
        });
        this.stderrReader = pump(process.getErrorStream(), "stderr", line -> {
            synchronized (stderrTail) {
                stderrTail.addLast(line);
                if (stderrTail.size() > STDERR_LINES_KEPT) {
                    stderrTail.removeFirst();
                }
            }
        });
    }

    /** A builder for a child running {@code mainClass}, which must have a {@code public static void main(String[])}. */
    public static Builder builder(Class<?> mainClass) {
        return new Builder(mainClass.getName());
    }

    /** A builder for a child running the class named {@code mainClassName}. */
    public static Builder builder(String mainClassName) {
        return new Builder(mainClassName);
    }

    private Thread pump(InputStream in, String stream, Consumer<String> sink) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    sink.accept(line);
                }
            } catch (IOException e) {
                // the process died or was killed: its pipes close, nothing more to read
            } finally {
                synchronized (lines) {
                    lines.notifyAll();
                }
            }
        }, "child-jvm-" + process.pid() + "-" + stream);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** The child's process id. */
    public long pid() {
        return process.pid();
    }

    /** True while the child runs. */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** The lines the child printed on standard output so far, in order. */
    public List<String> lines() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    /** The last lines (at most 50) the child printed on standard error. */
    public List<String> stderrTail() {
        synchronized (stderrTail) {
            return List.copyOf(stderrTail);
        }
    }

    /**
     * Waits for a standard output line matching {@code matcher} (lines printed earlier count) and
     * returns the first one.
     *
     * @throws AssertionError if none came within {@code timeout} or the child exited first; the
     *                        message carries the child's exit code and last standard error lines
     * @throws InterruptedException if interrupted while waiting
     */
    public String awaitLine(Predicate<String> matcher, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lines) {
            int checked = 0;
            while (true) {
                for (; checked < lines.size(); checked++) {
                    if (matcher.test(lines.get(checked))) {
                        return lines.get(checked);
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no matching line from " + this + " within " + timeout + diagnostics());
                }
                if (!process.isAlive() && !stdoutReader.isAlive()) {
                    throw new AssertionError(this + " exited with code " + process.exitValue()
                            + " before printing a matching line" + diagnostics());
                }
                TimeUnit.NANOSECONDS.timedWait(lines, Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
            }
        }
    }

    /** Waits for a standard output line equal to {@code line}. */
    public String awaitLine(String line, Duration timeout) throws InterruptedException {
        return awaitLine(line::equals, timeout);
    }

    /**
     * Kills the child with SIGKILL ({@link Process#destroyForcibly()}): no shutdown hook runs, no
     * buffer is flushed, nothing is closed gracefully. Waits until it is gone and every line it
     * printed has been read.
     *
     * @throws IllegalStateException if the child is still alive 30 s later
     */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException(this + " still alive 30 s after SIGKILL");
        }
        stdoutReader.join(TimeUnit.SECONDS.toMillis(5));
        stderrReader.join(TimeUnit.SECONDS.toMillis(5));
    }

    /**
     * Waits for the child to exit by itself.
     *
     * @return its exit code, or empty if it was still running after {@code timeout}
     */
    public Optional<Integer> awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            return Optional.empty();
        }
        stdoutReader.join(TimeUnit.SECONDS.toMillis(5));
        return Optional.of(process.exitValue());
    }

    /**
     * Closes the child's standard input, as the death of this JVM would. A child that watches its
     * input ({@link KillableConsumerMain} does) exits.
     */
    public void closeInput() {
        try {
            process.getOutputStream().close();
        } catch (IOException ignored) {
            // the pipe is already broken: the child sees end-of-file either way
        }
    }

    /** Kills the child if it is still alive. Idempotent; never throws. */
    @Override
    public void close() {
        try {
            if (process.isAlive()) {
                kill();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            process.destroyForcibly();
        } finally {
            try {
                process.getOutputStream().close();
            } catch (IOException ignored) {
                // the pipe is already broken: nothing left to close
            }
        }
    }

    private String diagnostics() {
        return "\nstdout so far: " + lines() + "\nstderr tail:\n  " + String.join("\n  ", stderrTail());
    }

    @Override
    public String toString() {
        return "ChildJvm[pid " + process.pid() + ", " + description + "]";
    }

    /** Builds and starts a {@link ChildJvm}. Not thread-safe. */
    public static final class Builder {
        private final String mainClass;
        private final List<String> args = new ArrayList<>();
        private final Map<String, String> systemProperties = new LinkedHashMap<>();
        private final List<String> jvmOptions = new ArrayList<>(List.of(
                "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
        private String classpath = System.getProperty("java.class.path");

        private Builder(String mainClass) {
            this.mainClass = Objects.requireNonNull(mainClass, "mainClass");
        }

        /** Adds program arguments. */
        public Builder args(String... values) {
            args.addAll(List.of(values));
            return this;
        }

        /** Adds program arguments. */
        public Builder args(List<String> values) {
            args.addAll(values);
            return this;
        }

        /** Passes {@code -Dname=value} to the child. */
        public Builder systemProperty(String name, String value) {
            systemProperties.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** Passes every entry as {@code -Dname=value}. */
        public Builder systemProperties(Map<String, String> values) {
            values.forEach(this::systemProperty);
            return this;
        }

        /** Adds a JVM option such as {@code -Xmx64m}. Defaults favour fast start-up and little memory. */
        public Builder jvmOption(String option) {
            jvmOptions.add(Objects.requireNonNull(option, "option"));
            return this;
        }

        /** The child's classpath; default this JVM's {@code java.class.path}. */
        public Builder classpath(String classpath) {
            this.classpath = Objects.requireNonNull(classpath, "classpath");
            return this;
        }

        /**
         * Removes the jar of Maven artifact {@code artifactId} (a file named {@code <artifactId>-<version>...jar})
         * from the classpath, so the child runs as for a user who excluded or never added that dependency.
         *
         * @throws IllegalArgumentException when no such jar is on the classpath (the test would prove nothing)
         */
        public Builder withoutJar(String artifactId) {
            Objects.requireNonNull(artifactId, "artifactId");
            List<String> kept = new ArrayList<>();
            for (String entry : classpath.split(File.pathSeparator)) {
                if (!isJarOf(entry, artifactId)) {
                    kept.add(entry);
                }
            }
            if (kept.size() == classpath.split(File.pathSeparator).length) {
                throw new IllegalArgumentException("no jar of " + artifactId + " on the classpath " + classpath);
            }
            this.classpath = String.join(File.pathSeparator, kept);
            return this;
        }

        private static boolean isJarOf(String entry, String artifactId) {
            String name = Path.of(entry).getFileName().toString();
            return name.endsWith(".jar") && name.startsWith(artifactId + "-") && name.length() > artifactId.length() + 1
                    && Character.isDigit(name.charAt(artifactId.length() + 1));
        }

        /**
         * Starts the child.
         *
         * @throws IOException if the {@code java} executable cannot be started
         */
        public ChildJvm start() throws IOException {
            List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.addAll(jvmOptions);
            systemProperties.forEach((k, v) -> command.add("-D" + k + "=" + v));
            command.add("-cp");
            command.add(classpath);
            command.add(mainClass);
            command.addAll(args);
            Process process = new ProcessBuilder(command).start();
            return new ChildJvm(process, mainClass + " " + String.join(" ", args));
        }
    }
}
