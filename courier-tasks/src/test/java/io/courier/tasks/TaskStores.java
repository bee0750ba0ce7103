package io.courier.tasks;

import io.courier.tasks.spi.TaskArrivals;
import io.courier.tasks.spi.TaskStore;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** Test helpers around a store: a wrapper that counts calls and can run code before each. */
final class TaskStores {

    private TaskStores() {
    }

    /** Runs {@code before} with the method name before every call, then calls {@code store}. */
    static TaskStore intercept(TaskArrivals store, java.util.function.Consumer<String> before) {
        InvocationHandler h = (proxy, method, args) -> {
            before.accept(method.getName());
            try {
                return method.invoke(store, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        };
        return (TaskStore) Proxy.newProxyInstance(TaskStore.class.getClassLoader(), new Class<?>[] {TaskArrivals.class}, h);
    }

    /** Counts the calls of each method. */
    static final class CallCounts {
        private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();

        void add(String method) {
            counts.computeIfAbsent(method, m -> new AtomicInteger()).incrementAndGet();
        }

        int of(String method) {
            AtomicInteger n = counts.get(method);
            return n == null ? 0 : n.get();
        }
    }
}
