package io.courier.sql;

/**
 * The database holds a schema of a later version than this library knows: it was written by a newer
 * Courier, and this one must not touch it. Thrown by {@link Migrator#apply}; {@link SqlErrors}
 * classifies it as {@link SqlFailure.Reason#SCHEMA}. The fix is to upgrade Courier.
 */
public class SchemaTooNewException extends IllegalStateException {

    private final String versionTable;
    private final int found;
    private final int supported;

    /**
     * @param versionTable the table that records the versions, e.g. {@code courier_schema_version}
     * @param found        the version the database is at
     * @param supported    the latest version this library knows
     */
    public SchemaTooNewException(String versionTable, int found, int supported) {
        super("table " + versionTable + " records schema version " + found + ", newer than this Courier version"
                + " supports (" + supported + "): upgrade Courier");
        this.versionTable = versionTable;
        this.found = found;
        this.supported = supported;
    }

    /** The table that records the versions. */
    public String versionTable() {
        return versionTable;
    }

    /** The version the database is at. */
    public int found() {
        return found;
    }

    /** The latest version this library knows. */
    public int supported() {
        return supported;
    }
}
