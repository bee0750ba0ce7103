package io.courier.saga.internal;

import io.courier.saga.SagaState;

/** A saga's row, mutable while a transition works on it inside its transaction. */
public final class SagaRow {
    public String id;
    public String type;
    public SagaState state;
    public int step;
    public boolean compensating;
    public int attempt;
    public boolean awaiting;
    public Long wakeAt;
    public byte[] data;
    public long version;
    public String reason;
    public long createdAt;
    public long updatedAt;
}
