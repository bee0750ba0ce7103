package io.courier.docs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/**
 * Compiles one {@link JavaBlock} with {@code javax.tools.JavaCompiler} against the test class path
 * (every Courier module and its drivers) and reports each error at its line in the Markdown page.
 *
 * <p>Every block gets the {@link #SHARED_IMPORTS} and a static import of its context class, so it
 * can use the context's example types ({@code OrderPlaced}, {@code Mailer}, ...). Statement and
 * member blocks are wrapped in a class that extends the context, so they also see its variables
 * ({@code transport}, {@code router}, {@code store}, ...). A line that is only {@code ...}, and
 * {@code { ... }}, stand for elided code and are compiled as comments.
 */
final class SnippetCompiler {

    /** Named contexts a block can ask for with {@code <!-- snippet: context=NAME -->}. */
    static final Map<String, Class<?>> CONTEXTS = Map.of(
            "default", DocContext.class,
            "tasks", TaskDocContext.class);

    /** Imported by every block: the public packages of every module, and the JDK packages examples use. */
    static final List<String> SHARED_IMPORTS = List.of(
            "io.courier.*", "io.courier.middleware.*", "io.courier.eventbus.*", "io.courier.memory.*",
            "io.courier.jdbc.*", "io.courier.outbox.*", "io.courier.saga.*", "io.courier.saga.testing.*", "io.courier.rabbitmq.*", "io.courier.redis.*", "io.courier.kafka.*",
            "io.courier.tasks.*", "io.courier.tasks.spi.*", "io.courier.tasks.memory.*", "io.courier.tasks.sql.*", "io.courier.tasks.redis.*",
            "io.courier.spi.engine.*", "io.courier.testkit.*", "io.courier.testkit.fault.*", "io.courier.testkit.tasks.*", "io.courier.testkit.idempotency.*",
            "io.courier.IdempotencyStore.Claim",
            "java.io.IOException", "java.nio.file.*", "java.sql.Connection", "java.sql.SQLException",
            "java.time.*", "java.util.*", "java.util.concurrent.*", "javax.sql.DataSource",
            "org.junit.jupiter.api.*", "org.junit.jupiter.api.io.TempDir");

    private static final Pattern ELIDED_LINE = Pattern.compile("^(\\s*)\\.\\.\\.\\s*$");
    private static final Pattern ELIDED_BODY = Pattern.compile("\\{ \\.\\.\\. }");
    private static final Pattern PUBLIC_TYPE = Pattern.compile(
            "^public\\s+((abstract|final|sealed|non-sealed|strictfp)\\s+)*(class|interface|enum|record)\\s+(\\w+).*");
    private static final Pattern PACKAGE = Pattern.compile("^package\\s+[\\w.]+\\s*;.*");

    private final JavaCompiler compiler = Objects.requireNonNull(ToolProvider.getSystemJavaCompiler(),
            "no Java compiler in this runtime: the docs check needs a JDK, not a JRE");
    /** Shared by every block: it caches the class path's jar indexes, which makes each compile faster. */
    private final StandardJavaFileManager files = compiler.getStandardFileManager(null, Locale.ROOT, StandardCharsets.UTF_8);
    private final String classPath;

    SnippetCompiler(String classPath) {
        this.classPath = classPath;
    }

    /** The class path of the running tests: Surefire's real one, else {@code java.class.path}. */
    static SnippetCompiler forTestClassPath() {
        return new SnippetCompiler(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
    }

    /**
     * Compiles the block.
     *
     * @return the errors, each {@code file:line: message} with the offending page line; empty when it compiles
     * @throws IllegalArgumentException for a {@link JavaBlock.Kind#SKIP} block
     */
    synchronized List<String> errors(JavaBlock block) {
        if (block.kind() == JavaBlock.Kind.SKIP) {
            throw new IllegalArgumentException(block.location() + " is marked skip: " + block.skipReason().orElseThrow());
        }
        Source source = wrap(block, null);
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        boolean ok = compile(List.of(source), diagnostics);
        java.util.Set<String> errors = new java.util.LinkedHashSet<>();   // javac repeats some syntax errors
        for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
            if (d.getKind() == Diagnostic.Kind.ERROR) {
                errors.add(source.describe(block, d));
            }
        }
        if (!ok && errors.isEmpty()) {
            errors.add(block.location() + ": the compiler failed without reporting an error");
        }
        return List.copyOf(errors);
    }

    /**
     * Compiles all {@code blocks} in one compiler run, each in a package of its own, which is many
     * times faster than one run per block. Only a yes or no: when it says no, compile the blocks one
     * by one with {@link #errors} to learn which fail and why (one block's syntax error can stop the
     * compiler before it checks the others).
     */
    synchronized boolean compilesTogether(List<JavaBlock> blocks) {
        List<Source> sources = new ArrayList<>();
        for (int i = 0; i < blocks.size(); i++) {
            if (blocks.get(i).kind() != JavaBlock.Kind.SKIP) {
                sources.add(wrap(blocks.get(i), "docsnippets.b" + i));
            }
        }
        return compile(sources, new DiagnosticCollector<>());
    }

    private boolean compile(List<Source> sources, DiagnosticCollector<JavaFileObject> diagnostics) {
        Path out;
        try {
            out = Files.createTempDirectory("courier-docs-check");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            List<String> options = List.of("-classpath", classPath, "-d", out.toString(), "-proc:none",
                    "--release", "17", "-Xlint:none", "-nowarn");
            List<StringSource> units = sources.stream().map(src -> new StringSource(src.fileName, src.text())).toList();
            return compiler.getTask(null, files, diagnostics, options, null, units).call();
        } finally {
            deleteRecursively(out);
        }
    }

    /** The generated compilation unit, for failure messages and tests. */
    String generatedSource(JavaBlock block) {
        return wrap(block, null).text();
    }

    /** The block as a compilation unit; in package {@code packageName} unless null or the block has its own. */
    private static Source wrap(JavaBlock block, String packageName) {
        Class<?> context = CONTEXTS.get(block.context());
        List<String> lines = new ArrayList<>();
        List<Integer> blockIndex = new ArrayList<>();   // per generated line: index into the block, or -1
        List<String> body = elide(block.lines());
        int start = 0;
        boolean ownPackage = false;
        if (block.kind() == JavaBlock.Kind.UNIT && !body.isEmpty()) {
            // A package declaration must stay first; the shared imports follow it.
            while (start < body.size() && (body.get(start).isBlank() || body.get(start).startsWith("//"))) {
                start++;
            }
            if (start < body.size() && PACKAGE.matcher(body.get(start)).matches()) {
                for (int i = 0; i <= start; i++) {
                    lines.add(body.get(i));
                    blockIndex.add(i);
                }
                start++;
                ownPackage = true;
            } else {
                start = 0;
            }
        }
        if (packageName != null && !ownPackage) {
            lines.add("package " + packageName + ";");
            blockIndex.add(-1);
        }
        for (String imported : SHARED_IMPORTS) {
            lines.add("import " + imported + ";");
            blockIndex.add(-1);
        }
        lines.add("import static " + context.getName() + ".*;");
        blockIndex.add(-1);
        String className = "Snippet";
        String open = switch (block.kind()) {
            case UNIT -> null;
            case STATEMENTS -> "class Snippet extends " + context.getName() + " { void snippet() throws Exception {";
            case MEMBERS -> "abstract class Snippet extends " + context.getName() + " {";
            case INTERFACE -> "interface Snippet {";
            case SKIP -> throw new IllegalStateException();
        };
        if (open != null) {
            lines.add(open);
            blockIndex.add(-1);
        }
        for (int i = start; i < body.size(); i++) {
            lines.add(body.get(i));
            blockIndex.add(i);
            Matcher publicType = PUBLIC_TYPE.matcher(body.get(i));
            if (block.kind() == JavaBlock.Kind.UNIT && className.equals("Snippet") && publicType.matches()) {
                className = publicType.group(4);   // javac wants a public type in a file of its name
            }
        }
        if (open != null) {
            lines.add(block.kind() == JavaBlock.Kind.STATEMENTS ? "}}" : "}");
            blockIndex.add(-1);
        }
        String directory = packageName == null ? "" : packageName.replace('.', '/') + "/";
        return new Source(directory + className + ".java", lines, blockIndex);
    }

    private static List<String> elide(List<String> lines) {
        List<String> out = new ArrayList<>(lines.size());
        for (String line : lines) {
            Matcher m = ELIDED_LINE.matcher(line);
            out.add(m.matches() ? m.group(1) + "// ..." : ELIDED_BODY.matcher(line).replaceAll("{ /* ... */ }"));
        }
        return out;
    }

    private record Source(String fileName, List<String> lines, List<Integer> blockIndex) {

        String text() {
            return String.join("\n", lines) + "\n";
        }

        String describe(JavaBlock block, Diagnostic<? extends JavaFileObject> d) {
            String message = d.getMessage(Locale.ROOT);
            long generated = d.getLineNumber();
            if (generated >= 1 && generated <= lines.size()) {
                int index = blockIndex.get((int) generated - 1);
                if (index >= 0) {
                    return block.file() + ":" + block.pageLine(index) + ": " + message
                            + "\n    " + block.lines().get(index).strip();
                }
                return block.location() + " (generated line " + generated + ": " + lines.get((int) generated - 1).strip()
                        + "): " + message;
            }
            return block.location() + ": " + message;
        }
    }

    private static final class StringSource extends SimpleJavaFileObject {
        private final String text;

        StringSource(String fileName, String text) {
            super(URI.create("string:///" + fileName), Kind.SOURCE);
            this.text = text;
        }

        @Override
        public CharSequence getCharContent(boolean ignoreEncodingErrors) {
            return text;
        }
    }

    private static void deleteRecursively(Path dir) {
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
