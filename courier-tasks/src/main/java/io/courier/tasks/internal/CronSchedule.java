package io.courier.tasks.internal;

import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import io.courier.tasks.Schedule;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.Objects;
import java.util.Optional;

/** A cron expression through cron-utils. */
public final class CronSchedule implements Schedule {
    private final String expression;
    private final ZoneId zone;
    private final ExecutionTime executionTime;

    /** Parses {@code expression} of {@code type}, evaluated in {@code zone}. */
    public CronSchedule(String expression, ZoneId zone, CronType type) {
        this.expression = Objects.requireNonNull(expression, "expression");
        this.zone = Objects.requireNonNull(zone, "zone");
        try {
            this.executionTime = ExecutionTime.forCron(
                    new CronParser(CronDefinitionBuilder.instanceDefinitionFor(type)).parse(expression).validate());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid cron expression '" + expression + "': " + e.getMessage(), e);
        }
    }

    @Override
    public Optional<Instant> nextAfter(Instant time) {
        // Cron has whole-second resolution; dropping the fraction keeps ticks identical in every process.
        Instant from = time.truncatedTo(ChronoUnit.SECONDS);
        return executionTime.nextExecution(ZonedDateTime.ofInstant(from, zone))
                .map(z -> z.toInstant().truncatedTo(ChronoUnit.SECONDS));
    }

    @Override
    public String toString() {
        return "cron '" + expression + "' in " + zone;
    }
}
