package io.courier.docs;

import io.courier.Codec;
import io.courier.tasks.TaskInspector;
import io.courier.tasks.spi.TaskStore;

/** The task queue guide's context ({@code <!-- snippet: context=tasks -->}): {@code store} is a task store. */
public abstract class TaskDocContext extends DocContext {

    protected TaskStore store;
    protected TaskInspector inspector;
    protected Codec codec;
    protected String taskId;
    protected Reports reports;

    /** The results example's task payload and result. */
    public record ReportRequest(String customer, String month) {
    }

    public record ReportSummary(String reportId, int rows) {
    }

    /** The application service the results example calls. */
    public interface Reports {
        ReportSummary build(ReportRequest request);
    }
}
