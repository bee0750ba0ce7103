package io.courier.sql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TablePrefixTest {

    @Test
    void acceptsLowerCaseLettersDigitsAndUnderscoresUpToFortyCharacters() {
        assertThat(TablePrefix.check("courier_")).isEqualTo("courier_");
        assertThat(TablePrefix.check("_x9")).isEqualTo("_x9");
        assertThat(TablePrefix.check("a".repeat(40))).hasSize(40);
    }

    @Test
    void refusesAnythingElseNamingTheRuleAndTheValue() {
        for (String bad : new String[] {"", "Courier_", "9lives_", "a-b", "a".repeat(41), "x'; DROP TABLE t;--"}) {
            assertThatThrownBy(() -> TablePrefix.check(bad)).as(bad)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("tablePrefix must match [a-z_][a-z0-9_]{0,39} (lower-case letters, digits, underscores;"
                            + " at most 40 characters), but was '" + bad + "'");
        }
        assertThatThrownBy(() -> TablePrefix.check(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith("but was 'null'");
    }

    @Test
    void namesFitPostgresIdentifiers() {
        TablePrefix longest = new TablePrefix("p".repeat(40));
        assertThat(longest.name("s".repeat(23))).hasSize(63);
        assertThatThrownBy(() -> longest.name("s".repeat(24))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1 to 23 characters");
    }
}
