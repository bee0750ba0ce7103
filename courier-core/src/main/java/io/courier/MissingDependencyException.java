package io.courier;

import java.util.Objects;

/**
 * A Courier feature needs an optional library that is not on the classpath, for example
 * {@code JdbcTransport.postgres(...)} without the PostgreSQL JDBC driver. Courier's modules declare
 * such libraries as optional (or let users exclude them), so that a user of one database or broker
 * does not carry the others' drivers; asking for a feature whose library is missing fails with this
 * exception when the feature is requested, never later with a {@link NoClassDefFoundError}.
 *
 * <p>The message names the feature and the Maven coordinates to add; {@link #artifact()} returns them.
 */
public class MissingDependencyException extends CourierException {

    private final String artifact;

    /**
     * An exception saying that {@code feature} needs {@code artifact}.
     *
     * @param feature  what was asked for, e.g. {@code "JdbcTransport.postgres"}
     * @param artifact the Maven coordinates {@code groupId:artifactId} of the missing library
     * @param missing  the class that was looked for and not found
     * @param cause    the failed class lookup, or {@code null}
     */
    public MissingDependencyException(String feature, String artifact, String missing, Throwable cause) {
        super(Objects.requireNonNull(feature, "feature") + " needs " + Objects.requireNonNull(artifact, "artifact")
                + " on the classpath, but class " + missing + " was not found. Add the dependency " + artifact
                + " (Courier declares it optional or it was excluded)", cause);
        this.artifact = artifact;
    }

    /** The Maven coordinates ({@code groupId:artifactId}) of the library to add. */
    public String artifact() {
        return artifact;
    }
}
