package io.courier.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.DecodingException;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class TaskMuxTest {

    record Email(String to) {
    }

    static TaskContext context(Task task) {
        TaskInfo info = TaskInfo.builder().id("id-1").queue("default").type(task.type()).payload(task.payload())
                .state(TaskState.ACTIVE).maxRetry(3).enqueuedAt(Instant.EPOCH).build();
        return new TaskContext(info, Instant.MAX, io.courier.JsonCodec.defaults());
    }

    @Test
    void exactMatchWinsOverPrefixAndTheLongestPrefixWinsOverShorterOnes() throws Exception {
        List<String> calls = new CopyOnWriteArrayList<>();
        TaskMux mux = TaskMux.builder()
                .handlePrefix("image:", ctx -> calls.add("image:*"))
                .handlePrefix("image:resize:", ctx -> calls.add("image:resize:*"))
                .handle("image:resize:thumb", ctx -> calls.add("exact"))
                .handlePrefix("a", ctx -> calls.add("a*"))
                .build();

        mux.handle(context(Task.of("image:resize:thumb")));
        mux.handle(context(Task.of("image:resize:large")));
        mux.handle(context(Task.of("image:crop")));
        mux.handle(context(Task.of("ab")));

        assertThat(calls).containsExactly("exact", "image:resize:*", "image:*", "a*");
        assertThat(mux.handlerFor("imagex")).isEmpty();
        assertThat(mux.handlerFor("b")).isEmpty();
    }

    @Test
    void unknownTypeFailsWithANonRetryableErrorNamingTheType() {
        TaskMux mux = TaskMux.builder().handle("known", ctx -> { }).build();

        assertThatThrownBy(() -> mux.handle(context(Task.of("unknown:type"))))
                .isInstanceOf(UnknownTaskTypeException.class)
                .isInstanceOf(io.courier.NonRetryableException.class)
                .hasMessage("no handler registered for task type 'unknown:type'");
    }

    @Test
    void middlewareRunsFirstAddedOutermostAndAlsoWrapsUnknownTypes() throws Exception {
        List<String> calls = new CopyOnWriteArrayList<>();
        TaskMux mux = TaskMux.builder()
                .use(next -> ctx -> {
                    calls.add("a>");
                    try {
                        next.handle(ctx);
                    } finally {
                        calls.add("<a");
                    }
                })
                .use(next -> ctx -> {
                    calls.add("b>");
                    next.handle(ctx);
                    calls.add("<b");
                })
                .handle("t", ctx -> calls.add("handler"))
                .build();

        mux.handle(context(Task.of("t")));
        assertThat(calls).containsExactly("a>", "b>", "handler", "<b", "<a");

        calls.clear();
        assertThatThrownBy(() -> mux.handle(context(Task.of("nope")))).isInstanceOf(UnknownTaskTypeException.class);
        assertThat(calls).containsExactly("a>", "b>", "<a");
    }

    @Test
    void middlewareReturningNullFailsTheBuildNamingIt() {
        TaskMiddleware broken = new TaskMiddleware() {
            @Override
            public TaskHandler wrap(TaskHandler next) {
                return null;
            }

            @Override
            public String name() {
                return "BrokenMiddleware";
            }
        };
        assertThatThrownBy(() -> TaskMux.builder().use(broken).handle("t", ctx -> { }).build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'BrokenMiddleware' (position 1 of 1) returned null");
    }

    @Test
    void typedHandlerDecodesThePayloadAndAMalformedPayloadIsADecodingError() throws Exception {
        List<Email> seen = new CopyOnWriteArrayList<>();
        TaskMux mux = TaskMux.builder().handle("email", Email.class, (ctx, e) -> seen.add(e)).build();

        mux.handle(context(Task.ofJson("email", new Email("ada@example.com"))));
        assertThat(seen).containsExactly(new Email("ada@example.com"));
        assertThatThrownBy(() -> mux.handle(context(Task.ofText("email", "[1,2"))))
                .isInstanceOf(DecodingException.class)
                .hasMessageContaining(Email.class.getName());
    }

    @Test
    void registeringATypeTwiceIsRejected() {
        assertThatThrownBy(() -> TaskMux.builder().handle("t", ctx -> { }).handle("t", ctx -> { }))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task type 't' already has a handler");
        assertThatThrownBy(() -> TaskMux.builder().handlePrefix("p:", ctx -> { }).handlePrefix("p:", ctx -> { }))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task type prefix 'p:' already has a handler");
    }
}
