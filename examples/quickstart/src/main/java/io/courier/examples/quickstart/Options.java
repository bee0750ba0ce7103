package io.courier.examples.quickstart;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The quickstart's command line: {@code [COUNT] [--db FILE | --memory] [--help]}.
 *
 * @param count  how many orders to publish, at least 2
 * @param db     the SQLite file, absolute; empty with {@code --memory}
 * @param help   {@code --help} was given: print {@link #HELP} and do nothing else
 */
record Options(int count, Optional<Path> db, boolean help) {

    static final String USAGE = "usage: scripts/quickstart [COUNT] [--db FILE | --memory]";

    static final String HELP = USAGE + """

              COUNT       how many orders to publish (default 5000, at least 2)
              --db FILE   the SQLite database file (default .courier/quickstart.db in the repository);
                          a relative path is relative to the directory you run the script from
              --memory    the in-memory transport instead: nothing is kept after the run
              -h, --help  this text
            """;

    static final int DEFAULT_COUNT = 5_000;

    Options {
        Objects.requireNonNull(db, "db");
    }

    /** True when the run uses the in-memory transport. */
    boolean memory() {
        return db.isEmpty();
    }

    /** A command line that is not valid; its message says what is wrong, without the usage line. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }

    /**
     * Parses {@code args}.
     *
     * @param callerDir the directory the user ran the script from: a relative {@code --db} path
     *                  resolves against it
     * @param defaultDb the database file when {@code --db} is not given
     * @throws UsageException if the arguments are not valid
     */
    static Options parse(List<String> args, Path callerDir, Path defaultDb) {
        Integer count = null;
        Path db = null;
        boolean memory = false;
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (arg.equals("-h") || arg.equals("--help")) {
                return new Options(DEFAULT_COUNT, Optional.of(defaultDb), true);
            } else if (arg.equals("--memory")) {
                memory = true;
            } else if (arg.equals("--db") || arg.startsWith("--db=")) {
                String value;
                if (arg.startsWith("--db=")) {
                    value = arg.substring("--db=".length());
                } else if (i + 1 < args.size() && !args.get(i + 1).startsWith("-")) {
                    value = args.get(++i);
                } else {
                    throw new UsageException("--db needs a FILE");
                }
                if (db != null) {
                    throw new UsageException("--db was given twice");
                }
                db = resolve(callerDir, value);
            } else if (arg.matches("[+-]?\\d+")) {
                if (count != null) {
                    throw new UsageException("COUNT was given twice: " + count + " and " + arg);
                }
                count = parseCount(arg);
            } else if (arg.startsWith("-")) {
                throw new UsageException("unknown option '" + arg + "'");
            } else {
                throw new UsageException("COUNT must be a whole number, but was '" + arg + "'");
            }
        }
        if (memory && db != null) {
            throw new UsageException("--memory and --db exclude each other: the in-memory transport uses no file");
        }
        int n = count != null ? count : DEFAULT_COUNT;
        return new Options(n, memory ? Optional.empty() : Optional.of(db != null ? db : defaultDb), false);
    }

    private static int parseCount(String arg) {
        int count;
        try {
            count = Integer.parseInt(arg);
        } catch (NumberFormatException e) {
            throw new UsageException("COUNT must be at most " + Integer.MAX_VALUE + ", but was " + arg);
        }
        if (count < 2) {
            throw new UsageException("COUNT must be >= 2, but was " + count);
        }
        return count;
    }

    private static Path resolve(Path callerDir, String file) {
        if (file.isBlank()) {
            throw new UsageException("--db needs a FILE, but was '" + file + "'");
        }
        Path path;
        try {
            path = callerDir.resolve(file).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw new UsageException("--db FILE is not a valid path: " + e.getMessage());
        }
        if (Files.isDirectory(path)) {
            throw new UsageException("--db needs a FILE, but " + path + " is a directory");
        }
        return path;
    }
}
