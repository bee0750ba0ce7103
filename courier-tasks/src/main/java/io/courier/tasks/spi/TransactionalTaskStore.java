package io.courier.tasks.spi;

import io.courier.tasks.TaskInfo;
import java.sql.Connection;

/**
 * Capability of SQL task stores: enqueue on the caller's own JDBC connection, inside the caller's
 * transaction, so that the task exists if and only if that transaction commits.
 */
public interface TransactionalTaskStore extends TaskStore {

    /**
     * Stores {@code task} using {@code connection} without committing, rolling back or changing its
     * auto-commit mode. The connection must reach the same database (and schema) as the store.
     *
     * @throws io.courier.tasks.DuplicateTaskException  if the unique lock or periodic tick is taken
     * @throws io.courier.tasks.TaskIdConflictException if the id exists
     * @throws io.courier.tasks.TaskStoreException      if the database fails
     */
    TaskInfo enqueue(Connection connection, NewTask task);
}
