package io.courier.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every {@code ```java} block of README.md and docs/**&#47;*.md compiles against the current code.
 * One dynamic test per block, named {@code file:line}; a block marked {@code <!-- snippet: skip REASON -->}
 * shows as skipped with its reason. The conventions are in docs/README.md ("Code blocks").
 */
class DocsJavaBlocksTest {

    private static final SnippetCompiler COMPILER = SnippetCompiler.forTestClassPath();

    @TestFactory
    Stream<DynamicTest> everyJavaBlockCompiles() throws IOException {
        List<JavaBlock> blocks = blocks();
        // One compiler run for all blocks; only if that fails is each block compiled alone, to name the culprits.
        boolean allCompile = COMPILER.compilesTogether(blocks);
        return blocks.stream().map(block -> DynamicTest.dynamicTest(block.location(), () -> {
            Assumptions.assumeTrue(block.kind() != JavaBlock.Kind.SKIP,
                    () -> block.location() + " is marked skip: " + block.skipReason().orElseThrow());
            List<String> errors = allCompile ? List.of() : COMPILER.errors(block);
            if (!errors.isEmpty()) {
                Assertions.fail("The Java block at " + block.location() + " does not compile ("
                        + block.kind().name().toLowerCase(java.util.Locale.ROOT) + ", context " + block.context() + "):\n"
                        + String.join("\n", errors));
            }
        }));
    }

    /** Guards the test above against finding nothing (a moved docs folder would make it pass vacuously). */
    @Test
    void findsTheReadmeAndTheGuides() throws IOException {
        assertThat(DocPages.all()).contains(DocPages.ROOT.resolve("README.md"), DocPages.ROOT.resolve("docs/testkit.md"));
        assertThat(blocks()).hasSizeGreaterThan(20);
        System.out.println("Java blocks in the docs: " + blocks().size() + ", skipped: "
                + blocks().stream().filter(b -> b.kind() == JavaBlock.Kind.SKIP).count());
    }

    static List<JavaBlock> blocks() throws IOException {
        List<JavaBlock> blocks = new ArrayList<>();
        for (Path page : DocPages.all()) {
            blocks.addAll(MarkdownJavaBlocks.extract(DocPages.name(page), Files.readString(page, StandardCharsets.UTF_8)));
        }
        return blocks;
    }
}
