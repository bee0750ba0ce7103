package io.courier.docs;

import static org.assertj.core.api.Assertions.assertThat;

import io.courier.SubscriptionOptions;
import io.courier.eventbus.InProcessEventBus;
import io.courier.eventbus.TransportEventBus;
import io.courier.jdbc.JdbcTransport;
import io.courier.kafka.KafkaConfig;
import io.courier.kafka.KafkaSubscriptionOptions;
import io.courier.memory.InMemoryTransport;
import io.courier.middleware.DeadLetterMiddleware;
import io.courier.middleware.IdempotencyMiddleware;
import io.courier.middleware.RetryMiddleware;
import io.courier.outbox.Outbox;
import io.courier.outbox.OutboxRelay;
import io.courier.saga.SagaOrchestrator;
import io.courier.saga.SagaStep;
import io.courier.Router;
import io.courier.rabbitmq.RabbitMqConfig;
import io.courier.rabbitmq.TopicTopology;
import io.courier.redis.RedisConfig;
import io.courier.tasks.TaskOptions;
import io.courier.tasks.TaskScheduler;
import io.courier.tasks.TaskServer;
import io.courier.tasks.redis.RedisTaskStore;
import io.courier.tasks.sql.SqlTaskStore;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * docs/configuration.md lists every option of every builder: a setter added to a builder without a
 * line on that page fails here. (Defaults are not checked: the page states them from the constants.)
 */
class DocsConfigurationReferenceTest {

    /** The builders the reference covers. */
    private static final List<Class<?>> BUILDERS = List.of(
            SubscriptionOptions.Builder.class, JdbcTransport.Builder.class, RabbitMqConfig.Builder.class,
            TopicTopology.Builder.class, RedisConfig.Builder.class, KafkaConfig.Builder.class,
            KafkaSubscriptionOptions.Builder.class, InMemoryTransport.Builder.class, Router.Builder.class,
            RetryMiddleware.Builder.class, DeadLetterMiddleware.Builder.class, IdempotencyMiddleware.Builder.class,
            InProcessEventBus.Builder.class, TransportEventBus.Builder.class, TaskServer.Builder.class,
            TaskOptions.Builder.class, TaskScheduler.Builder.class, SqlTaskStore.Builder.class,
            RedisTaskStore.Builder.class, Outbox.Builder.class, OutboxRelay.Builder.class,
            SagaOrchestrator.Builder.class, SagaStep.Builder.class);

    private static final Set<String> NOT_OPTIONS = Set.of("build", "toBuilder", "start");

    @Test
    void everyBuilderOptionIsListed() throws IOException {
        Path page = DocPages.ROOT.resolve("docs/configuration.md");
        String text = Files.readString(page, StandardCharsets.UTF_8);
        Set<String> missing = new TreeSet<>();
        for (Class<?> builder : BUILDERS) {
            for (String option : options(builder)) {
                if (!text.contains("`" + option + "`") && !text.contains("`" + option + "(")) {
                    missing.add(builder.getName().replace('$', '.') + "#" + option);
                }
            }
        }
        assertThat(missing).as("builder options that docs/configuration.md does not list").isEmpty();
    }

    private static List<String> options(Class<?> builder) {
        List<String> names = new ArrayList<>();
        Arrays.stream(builder.getDeclaredMethods())
                .filter(m -> Modifier.isPublic(m.getModifiers()) && !Modifier.isStatic(m.getModifiers()))
                .map(Method::getName)
                .filter(n -> !NOT_OPTIONS.contains(n) && !names.contains(n))
                .forEach(names::add);
        return names;
    }
}
