package io.courier.tasks;

/**
 * Where {@link TaskContext#writeResult(byte[])} sends a handler's result: for a running
 * {@link TaskServer}, the store, under the lease of the attempt (Asynq's {@code ResultWriter}).
 * Implementations are called from handler threads and must be thread-safe.
 */
@FunctionalInterface
public interface ResultWriter {

    /**
     * Stores {@code result} with the task, replacing an earlier result.
     *
     * @param result the bytes to store (not modified, may be kept)
     * @return true if it was stored; false if the attempt no longer holds the task (it timed out,
     *         lost its lease, or the server returned it to pending at shutdown): the result is discarded
     * @throws IllegalArgumentException if the result is larger than the server accepts
     * @throws TaskStoreException       if the store cannot be written
     */
    boolean write(byte[] result);
}
