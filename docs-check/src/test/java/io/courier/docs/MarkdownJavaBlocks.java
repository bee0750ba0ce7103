package io.courier.docs;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds the {@code ```java} blocks of a Markdown page and reads the directive that may precede each:
 * an HTML comment {@code <!-- snippet: ... -->} on the last non-blank line before the fence.
 *
 * <pre>
 * &lt;!-- snippet: skip REASON --&gt;                     not compiled; the reason is required
 * &lt;!-- snippet: statements|members|interface|unit --&gt;  overrides the detected kind
 * &lt;!-- snippet: context=tasks --&gt;                    another declared context (may follow a kind)
 * </pre>
 *
 * Without a kind, a block is a {@link JavaBlock.Kind#UNIT} when every line that starts in column 0
 * opens or closes a declaration ({@code package}, {@code import}, an annotation, a class, interface,
 * record or enum, or a closing brace), and {@link JavaBlock.Kind#STATEMENTS} otherwise. A malformed
 * directive is an error, never ignored.
 */
final class MarkdownJavaBlocks {

    private static final Pattern FENCE = Pattern.compile("^(\\s*)(`{3,}|~{3,})\\s*([^`\\s]*).*$");
    private static final Pattern DIRECTIVE = Pattern.compile("^\\s*<!--\\s*snippet:(.*?)-->\\s*$");
    private static final Pattern DECLARATION = Pattern.compile(
            "^(package |import |@|}|((public|protected|private|abstract|final|sealed|non-sealed|static|strictfp)\\s+)*"
                    + "(class|interface|enum|record)\\s+\\w+).*");

    private MarkdownJavaBlocks() {
    }

    /**
     * Every Java block of one page, in page order.
     *
     * @param file    the page's path relative to the repository root, used in locations
     * @param content the page's text
     * @throws IllegalArgumentException naming {@code file:line} for a malformed directive or an unclosed fence
     */
    static List<JavaBlock> extract(String file, String content) {
        String[] lines = content.split("\r?\n", -1);
        List<JavaBlock> blocks = new ArrayList<>();
        for (int i = 0; i < lines.length; i++) {
            Matcher open = FENCE.matcher(lines[i]);
            if (!open.matches()) {
                continue;
            }
            String indent = open.group(1);
            String fence = open.group(2);
            int close = i + 1;
            while (close < lines.length && !isClosing(lines[close], fence)) {
                close++;
            }
            if (close == lines.length) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": the code fence is never closed");
            }
            if (open.group(3).equals("java")) {
                List<String> body = new ArrayList<>();
                for (int j = i + 1; j < close; j++) {
                    body.add(lines[j].startsWith(indent) ? lines[j].substring(indent.length()) : lines[j].stripLeading());
                }
                blocks.add(block(file, i + 1, body, directiveBefore(file, lines, i)));
            }
            i = close;
        }
        return blocks;
    }

    private static boolean isClosing(String line, String fence) {
        String trimmed = line.strip();
        return trimmed.startsWith(fence) && trimmed.chars().allMatch(c -> c == fence.charAt(0));
    }

    private static Optional<String> directiveBefore(String file, String[] lines, int fenceIndex) {
        for (int k = fenceIndex - 1; k >= 0; k--) {
            if (lines[k].isBlank()) {
                continue;
            }
            Matcher m = DIRECTIVE.matcher(lines[k]);
            if (m.matches()) {
                return Optional.of(m.group(1).strip());
            }
            if (lines[k].contains("snippet:")) {
                throw new IllegalArgumentException(file + ":" + (k + 1)
                        + ": a snippet directive must be a whole line <!-- snippet: ... -->, but was: " + lines[k].strip());
            }
            return Optional.empty();
        }
        return Optional.empty();
    }

    private static JavaBlock block(String file, int fenceLine, List<String> body, Optional<String> directive) {
        String where = file + ":" + fenceLine;
        JavaBlock.Kind kind = null;
        String context = "default";
        if (directive.isPresent()) {
            String text = directive.get();
            if (text.equals("skip") || text.startsWith("skip ")) {
                String reason = text.substring(4).strip();
                if (reason.isEmpty()) {
                    throw new IllegalArgumentException(where + ": <!-- snippet: skip --> needs a reason, e.g."
                            + " <!-- snippet: skip pseudo-code -->");
                }
                return new JavaBlock(file, fenceLine, List.copyOf(body), JavaBlock.Kind.SKIP, context, Optional.of(reason));
            }
            for (String word : text.split("\\s+")) {
                if (word.startsWith("context=")) {
                    context = word.substring("context=".length());
                    if (!SnippetCompiler.CONTEXTS.containsKey(context)) {
                        throw new IllegalArgumentException(where + ": unknown snippet context '" + context
                                + "', expected one of " + SnippetCompiler.CONTEXTS.keySet());
                    }
                } else {
                    try {
                        kind = JavaBlock.Kind.valueOf(word.toUpperCase(java.util.Locale.ROOT));
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException(where + ": unknown snippet directive word '" + word
                                + "', expected skip REASON, unit, statements, members, interface or context=NAME");
                    }
                    if (kind == JavaBlock.Kind.SKIP) {
                        throw new IllegalArgumentException(where + ": 'skip' must come first and be followed by a reason");
                    }
                }
            }
        }
        if (kind == null) {
            kind = isUnit(body) ? JavaBlock.Kind.UNIT : JavaBlock.Kind.STATEMENTS;
        }
        return new JavaBlock(file, fenceLine, List.copyOf(body), kind, context, Optional.empty());
    }

    private static boolean isUnit(List<String> body) {
        boolean any = false;
        for (String line : body) {
            if (line.isBlank() || Character.isWhitespace(line.charAt(0)) || line.startsWith("//")
                    || line.startsWith("/*") || line.startsWith("*")) {
                continue;
            }
            if (!DECLARATION.matcher(line).matches()) {
                return false;
            }
            any = true;
        }
        return any;
    }
}
