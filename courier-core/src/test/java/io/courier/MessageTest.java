package io.courier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class MessageTest {

    @Test
    void generatesUniqueIdsAndTimestampWhenAbsent() {
        Message a = Message.ofText("a");
        Message b = Message.ofText("a");

        assertThat(a.id()).isNotBlank().isNotEqualTo(b.id());
        assertThat(a.timestamp()).isNotNull();
        assertThat(a.key()).isEmpty();
    }

    @Test
    void payloadCannotBeChangedFromOutside() {
        byte[] bytes = "hello".getBytes(StandardCharsets.UTF_8);
        Message m = Message.of(bytes);
        bytes[0] = 'J';
        m.payload()[1] = 'A';

        assertThat(m.payloadAsText()).isEqualTo("hello");
    }

    @Test
    void headersAreImmutableAndCopiesKeepTheId() {
        Message m = Message.builder().id("m-1").key("k").header("a", "1").payload(new byte[] {1}).build();
        Message copy = m.withHeader("b", "2");

        assertThatThrownBy(() -> m.headers().put("x", "y")).isInstanceOf(UnsupportedOperationException.class);
        assertThat(copy.id()).isEqualTo("m-1");
        assertThat(copy.key()).contains("k");
        assertThat(copy.headers()).containsEntry("a", "1").containsEntry("b", "2");
        assertThat(m.headers()).doesNotContainKey("b");
    }

    @Test
    void aBuilderWithoutHeadersAndABuilderOfACopyKeepTheirHeadersApart() {
        Message bare = Message.builder().removeHeader("absent").build();
        assertThat(bare.headers()).isEmpty();
        assertThat(bare.payload()).isEmpty();

        Message original = Message.builder().header("a", "1").header("b", "2").build();
        Message.Builder b = original.toBuilder().removeHeader("a").header("c", "3");
        Message changed = b.build();
        assertThat(original.headers()).containsExactly(entry("a", "1"), entry("b", "2"));
        assertThat(changed.headers()).containsExactly(entry("b", "2"), entry("c", "3"));
        b.header("d", "4");   // the builder's later changes reach neither message
        assertThat(changed.headers()).doesNotContainKey("d");
        assertThat(bare.toBuilder().header("x", "y").build().headers()).containsExactly(entry("x", "y"));
        assertThat(bare.headers()).isEmpty();
    }

    @Test
    void rejectsBlankIdAndNullHeaderValues() {
        assertThatThrownBy(() -> Message.builder().id(" ")).hasMessageContaining("must not be blank");
        assertThatThrownBy(() -> Message.builder().header("h", null)).hasMessageContaining("'h'");
    }

    @Test
    void anEmptyKeyOrHeaderNameIsRejectedWhenTheMessageIsBuilt() {
        assertThatThrownBy(() -> Message.builder().key("").build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("message key must not be empty (leave it unset for no key), but was ''");
        assertThatThrownBy(() -> Message.builder().header("", "v").build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("header name must not be empty, but was ''");
        assertThatThrownBy(() -> Message.ofText("x").withHeader("", "v")).hasMessage("header name must not be empty, but was ''");
        assertThatThrownBy(() -> Message.ofText("x").withHeaders(java.util.Map.of("", "v"))).isInstanceOf(IllegalArgumentException.class);

        // What is allowed: no key, a blank key (keys are opaque), empty header values.
        assertThat(Message.builder().key(null).build().key()).isEmpty();
        assertThat(Message.builder().key(" ").build().key()).contains(" ");
        assertThat(Message.builder().header("h", "").build().headers()).containsExactly(entry("h", ""));
    }
}
