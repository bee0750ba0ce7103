package io.courier;

/**
 * Where a consumer group that does not exist yet starts reading a topic. An existing group always
 * continues where it left off.
 */
public enum StartPosition {
    /** From the oldest message the transport still retains: nothing published before the group's first start is lost. The default. */
    EARLIEST,
    /** Only messages published after the group was created. */
    LATEST
}
