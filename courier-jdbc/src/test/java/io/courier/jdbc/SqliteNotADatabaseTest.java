package io.courier.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Opening the SQLite transport on a file that is not a database. */
class SqliteNotADatabaseTest {

    @Test
    void aTextFileGivesAnErrorSayingItIsNotADatabaseNotOneAboutHostsAndPorts(@TempDir Path dir) throws Exception {
        Path text = dir.resolve("notes.txt");
        String content = "these are notes, not a database\n".repeat(100);
        Files.writeString(text, content);

        // The pool reports the driver's SQLITE_NOTADB as the cause of its connect timeout; the default
        // timeout (5 s) leaves room for the first attempt even on a busy machine.
        assertThatThrownBy(() -> JdbcTransport.sqlite(text).build())
                .isInstanceOf(JdbcTransportException.class)
                .hasMessageContaining("SQLite file " + text.toAbsolutePath() + " is not an SQLite database")
                .hasMessageContaining("SQLITE_NOTADB")
                .hasMessageNotContaining("cannot connect")
                .hasMessageNotContaining("host")
                .satisfies(e -> assertThat(((JdbcTransportException) e).reason()).isEqualTo(JdbcTransportException.Reason.DATABASE));
        assertThat(Files.readString(text)).as("the file is left as it was").isEqualTo(content);
    }
}
