package io.courier.tasks.conformance;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;

/** The conformance suite on an embedded SQLite file. */
class SqliteTaskStoreTest extends TaskStoreConformanceTest {

    @TempDir
    Path dir;

    @Override
    protected List<String> newStoreSpec() {
        return List.of("sqlite", dir.resolve("tasks.db").toString());
    }
}
