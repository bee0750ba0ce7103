package io.courier.docs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The checker itself: it must fail a block that names what does not exist, at the right page line. */
class SnippetCompilerTest {

    private static final SnippetCompiler COMPILER = SnippetCompiler.forTestClassPath();

    @Test
    void aBlockNamingAClassThatDoesNotExistFailsAtItsPageLine() {
        JavaBlock block = only("""
                # Page

                ```java
                try (Transport transport = SqlTransport.sqlite(Path.of("app.db"))) {
                    transport.publisher().publish("t", Message.ofText("x")).join();
                }
                ```
                """);

        assertThat(block.kind()).isEqualTo(JavaBlock.Kind.STATEMENTS);
        assertThat(COMPILER.errors(block)).singleElement().asString()
                .startsWith("docs/page.md:4: cannot find symbol")
                .contains("SqlTransport");
    }

    @Test
    void aMethodThatDoesNotExistFails() {
        JavaBlock block = only("""
                ```java
                RabbitMqTransport t = RabbitTransport.connect("amqp://localhost");
                ```
                """);

        assertThat(COMPILER.errors(block)).isNotEmpty().allSatisfy(e -> assertThat(e).startsWith("docs/page.md:2: "));
    }

    @Test
    void statementsSeeTheContextAndElisionsCompile() {
        JavaBlock block = only("""
                ```java
                try (Router router = Router.builder(transport).use(RetryMiddleware.defaults()).build()) {
                    router.route("orders", "billing", OrderPlaced.class, (o, d) -> bill(o));
                    ...
                }
                ```
                """);

        assertThat(COMPILER.errors(block)).isEmpty();
    }

    @Test
    void completeDeclarationsCompileAsAUnitWithThePublicTypeAsFileName() {
        JavaBlock block = only("""
                ```java
                class Helper {
                }

                public final class MyFactory implements TransportFactory {
                    @Override
                    public Transport create(Map<String, String> config) {
                        return InMemoryTransport.builder().build();
                    }
                }
                ```
                """);

        assertThat(block.kind()).isEqualTo(JavaBlock.Kind.UNIT);
        assertThat(COMPILER.errors(block)).isEmpty();
    }

    @Test
    void aTaskContextBlockSeesATaskStore() {
        JavaBlock block = only("""
                <!-- snippet: context=tasks -->
                ```java
                TaskClient client = TaskClient.create(store);
                ```
                """);

        assertThat(block.context()).isEqualTo("tasks");
        assertThat(COMPILER.errors(block)).isEmpty();
    }

    @Test
    void blocksCompiledTogetherFailWhenOneFailsAndPassWhenAllPass() {
        List<JavaBlock> good = MarkdownJavaBlocks.extract("docs/page.md", """
                ```java
                record Email(String to) {}
                Message m = Message.ofText("x");
                ```

                ```java
                record Email(String to) {}
                public final class Factory implements TransportFactory {
                    @Override
                    public Transport create(Map<String, String> config) {
                        return InMemoryTransport.create();
                    }
                }
                ```

                ```java
                public final class Factory {
                }
                ```
                """);
        JavaBlock bad = only("""
                ```java
                Transport t = SqlTransport.sqlite(Path.of("x.db"));
                ```
                """);

        assertThat(COMPILER.compilesTogether(good)).isTrue();   // the same names in several blocks do not clash
        List<JavaBlock> withBad = new java.util.ArrayList<>(good);
        withBad.add(bad);
        assertThat(COMPILER.compilesTogether(withBad)).isFalse();
    }

    @Test
    void aSkippedBlockNeedsAReason() {
        assertThatThrownBy(() -> MarkdownJavaBlocks.extract("docs/page.md", """
                <!-- snippet: skip -->
                ```java
                not java at all
                ```
                """)).hasMessageContaining("docs/page.md:2").hasMessageContaining("needs a reason");

        JavaBlock skipped = only("""
                <!-- snippet: skip pseudo-code of the claim loop -->

                ```java
                not java at all
                ```
                """);
        assertThat(skipped.kind()).isEqualTo(JavaBlock.Kind.SKIP);
        assertThat(skipped.skipReason()).hasValue("pseudo-code of the claim loop");
    }

    @Test
    void anUnknownDirectiveOrContextIsAnError() {
        assertThatThrownBy(() -> MarkdownJavaBlocks.extract("docs/page.md", """
                <!-- snippet: statemnts -->
                ```java
                int x = 1;
                ```
                """)).hasMessageContaining("docs/page.md:2").hasMessageContaining("statemnts");
        assertThatThrownBy(() -> MarkdownJavaBlocks.extract("docs/page.md", """
                <!-- snippet: context=nowhere -->
                ```java
                int x = 1;
                ```
                """)).hasMessageContaining("unknown snippet context 'nowhere'");
    }

    @Test
    void indentedBlocksInListsAndOtherLanguagesAreHandled() {
        List<JavaBlock> blocks = MarkdownJavaBlocks.extract("docs/page.md", """
                - a list item:

                  ```java
                  Message m = Message.ofText("x");
                  ```

                ```bash
                echo not java
                ```
                """);

        assertThat(blocks).singleElement().satisfies(b -> {
            assertThat(b.fenceLine()).isEqualTo(3);
            assertThat(b.lines()).containsExactly("Message m = Message.ofText(\"x\");");
            assertThat(COMPILER.errors(b)).isEmpty();
        });
    }

    private static JavaBlock only(String page) {
        List<JavaBlock> blocks = MarkdownJavaBlocks.extract("docs/page.md", page);
        assertThat(blocks).hasSize(1);
        return blocks.get(0);
    }
}
