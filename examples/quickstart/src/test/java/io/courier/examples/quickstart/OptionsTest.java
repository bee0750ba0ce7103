package io.courier.examples.quickstart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OptionsTest {

    private static final Path CALLER = Path.of("/home/someone/work");
    private static final Path DEFAULT_DB = Path.of("/repo/.courier/quickstart.db");

    private static Options parse(String... args) {
        return Options.parse(List.of(args), CALLER, DEFAULT_DB);
    }

    @Test
    void noArgumentsMeansFiveThousandOrdersOnTheDefaultFile() {
        assertThat(parse()).isEqualTo(new Options(5_000, Optional.of(DEFAULT_DB), false));
    }

    @Test
    void countAndDbInAnyOrder() {
        assertThat(parse("20000", "--db", "other.db")).isEqualTo(new Options(20_000, Optional.of(CALLER.resolve("other.db")), false));
        assertThat(parse("--db", "other.db", "20000")).isEqualTo(new Options(20_000, Optional.of(CALLER.resolve("other.db")), false));
        assertThat(parse("--db=other.db").db()).contains(CALLER.resolve("other.db"));
    }

    @Test
    void relativeDbPathResolvesFromTheCallersDirectoryAndAbsoluteStaysAsItIs() {
        assertThat(parse("--db", "../data/q.db").db()).contains(Path.of("/home/someone/data/q.db"));
        assertThat(parse("--db", "/tmp/q.db").db()).contains(Path.of("/tmp/q.db"));
    }

    @Test
    void pathWithSpacesIsOneArgument() {
        assertThat(parse("--db", "my data/quick start.db").db()).contains(CALLER.resolve("my data/quick start.db"));
    }

    @Test
    void memoryHasNoFile() {
        Options memory = parse("--memory", "100");
        assertThat(memory.memory()).isTrue();
        assertThat(memory.db()).isEmpty();
        assertThat(memory.count()).isEqualTo(100);
    }

    @Test
    void helpIsHonouredUnlessAnEarlierArgumentIsWrong() {
        assertThat(parse("-h").help()).isTrue();
        assertThat(parse("100", "--help").help()).isTrue();
        assertThat(parse("--help", "lots", "--db").help()).as("nothing after --help is read").isTrue();
        assertThatThrownBy(() -> parse("lots", "--help")).isInstanceOf(Options.UsageException.class);
    }

    @Test
    void nonNumberIsAUsageError() {
        assertThatThrownBy(() -> parse("lots"))
                .isInstanceOf(Options.UsageException.class)
                .hasMessage("COUNT must be a whole number, but was 'lots'");
        assertThatThrownBy(() -> parse("1.5"))
                .isInstanceOf(Options.UsageException.class)
                .hasMessage("COUNT must be a whole number, but was '1.5'");
    }

    @Test
    void countOutOfRangeIsAUsageError() {
        assertThatThrownBy(() -> parse("1")).isInstanceOf(Options.UsageException.class).hasMessage("COUNT must be >= 2, but was 1");
        assertThatThrownBy(() -> parse("-5")).isInstanceOf(Options.UsageException.class).hasMessage("COUNT must be >= 2, but was -5");
        assertThatThrownBy(() -> parse("99999999999"))
                .isInstanceOf(Options.UsageException.class)
                .hasMessage("COUNT must be at most 2147483647, but was 99999999999");
        assertThatThrownBy(() -> parse("10", "20"))
                .isInstanceOf(Options.UsageException.class)
                .hasMessage("COUNT was given twice: 10 and 20");
    }

    @Test
    void dbWithoutAValueIsAUsageError() {
        assertThatThrownBy(() -> parse("--db")).isInstanceOf(Options.UsageException.class).hasMessage("--db needs a FILE");
        assertThatThrownBy(() -> parse("--db", "--memory")).isInstanceOf(Options.UsageException.class).hasMessage("--db needs a FILE");
        assertThatThrownBy(() -> parse("--db", "")).isInstanceOf(Options.UsageException.class).hasMessage("--db needs a FILE, but was ''");
        assertThatThrownBy(() -> parse("--db=")).isInstanceOf(Options.UsageException.class).hasMessage("--db needs a FILE, but was ''");
    }

    @Test
    void dbThatIsADirectoryIsAUsageError(@TempDir Path dir) {
        assertThatThrownBy(() -> Options.parse(List.of("--db", "."), dir, DEFAULT_DB))
                .isInstanceOf(Options.UsageException.class)
                .hasMessage("--db needs a FILE, but " + dir.toAbsolutePath().normalize() + " is a directory");
    }

    @Test
    void unknownOptionIsAUsageError() {
        assertThatThrownBy(() -> parse("--fast")).isInstanceOf(Options.UsageException.class).hasMessage("unknown option '--fast'");
        assertThatThrownBy(() -> parse("-x")).isInstanceOf(Options.UsageException.class).hasMessage("unknown option '-x'");
    }

    @Test
    void memoryAndDbTogetherAreRefused() {
        assertThatThrownBy(() -> parse("--memory", "--db", "x.db"))
                .isInstanceOf(Options.UsageException.class)
                .hasMessageStartingWith("--memory and --db exclude each other");
        assertThatThrownBy(() -> parse("--db", "x.db", "--memory"))
                .isInstanceOf(Options.UsageException.class)
                .hasMessageStartingWith("--memory and --db exclude each other");
        assertThatThrownBy(() -> parse("--db", "x.db", "--db", "y.db"))
                .isInstanceOf(Options.UsageException.class)
                .hasMessage("--db was given twice");
    }
}
