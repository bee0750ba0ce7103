package io.courier.benchmarks;

import java.util.LinkedHashMap;
import java.util.Map;

/** Every scenario the harness knows, by name. Transports add theirs here. */
final class Scenarios {

    private Scenarios() {
    }

    static Map<String, Scenario> all() {
        Map<String, Scenario> m = new LinkedHashMap<>();
        for (Scenario s : MemoryScenarios.scenarios()) {
            m.put(s.name(), s);
        }
        for (Scenario s : RedisScenarios.scenarios()) {
            m.put(s.name(), s);
        }
        RabbitMqScenarios.scenarios().forEach(s -> m.put(s.name(), s));
        JdbcScenarios.scenarios().forEach(s -> m.put(s.name(), s));
        KafkaScenarios.scenarios().forEach(s -> m.put(s.name(), s));
        OutboxScenarios.scenarios(Map.copyOf(m)).forEach(s -> m.put(s.name(), s));
        SagaScenarios.scenarios().forEach(s -> m.put(s.name(), s));
        return m;
    }
}
