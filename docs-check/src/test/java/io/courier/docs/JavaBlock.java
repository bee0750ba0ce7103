package io.courier.docs;

import java.util.List;
import java.util.Optional;

/**
 * One {@code ```java} block of a Markdown page, with how the checker compiles it.
 *
 * @param file       the page, relative to the repository root (e.g. {@code docs/testkit.md})
 * @param fenceLine  1-based line of the opening fence in the page
 * @param lines      the block's lines, the fence's indentation removed; line {@code i} is page line
 *                   {@code fenceLine + 1 + i}
 * @param kind       how the block is wrapped before compiling
 * @param context    name of the declared context (a key of {@link SnippetCompiler#CONTEXTS})
 * @param skipReason why the block is not compiled, present only for {@link Kind#SKIP}
 */
record JavaBlock(String file, int fenceLine, List<String> lines, Kind kind, String context,
                 Optional<String> skipReason) {

    /** How a block becomes a compilation unit. */
    enum Kind {
        /** Complete declarations (types, imports): compiled as they are, with the shared imports. */
        UNIT,
        /** Statements: the body of a method of a class that extends the context. */
        STATEMENTS,
        /** Fields, methods or nested types: the body of an abstract class that extends the context. */
        MEMBERS,
        /** Method signatures without bodies: the body of an interface. */
        INTERFACE,
        /** Pseudo-code or an excerpt that cannot compile; marked explicitly with a reason. */
        SKIP
    }

    /** {@code docs/testkit.md:21}: where the block starts, for test names and failures. */
    String location() {
        return file + ":" + fenceLine;
    }

    /** The page line of the block's line {@code index} (0-based). */
    int pageLine(int index) {
        return fenceLine + 1 + index;
    }
}
