package io.courier.docs;

import io.courier.tasks.spi.TaskStore;

/** The task queue guide's context ({@code <!-- snippet: context=tasks -->}): {@code store} is a task store. */
public abstract class TaskDocContext extends DocContext {

    protected TaskStore store;
}
