package io.courier.spi;

import io.courier.MissingDependencyException;
import java.util.Objects;

/**
 * Checks, when a feature is asked for, that an optional library it needs is on the classpath, so
 * the caller gets a {@link MissingDependencyException} naming the artifact to add instead of a
 * {@link NoClassDefFoundError} from deep inside the first use. Code that links against the library
 * belongs in classes that are loaded only after this check passed.
 */
public final class OptionalDependency {

    private OptionalDependency() {
    }

    /**
     * Returns normally when {@code className} is visible to {@code caller}'s class loader (the class is
     * looked up, not initialized).
     *
     * @param caller    the class that will use the library
     * @param className a class of the library, e.g. {@code "org.postgresql.PGConnection"}
     * @param artifact  its Maven coordinates, e.g. {@code "org.postgresql:postgresql"}
     * @param feature   what needs it, e.g. {@code "JdbcTransport.postgres"}
     * @throws MissingDependencyException when the class is not found
     */
    public static void require(Class<?> caller, String className, String artifact, String feature) {
        Objects.requireNonNull(caller, "caller");
        try {
            Class.forName(className, false, caller.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new MissingDependencyException(feature, artifact, className, e);
        }
    }
}
