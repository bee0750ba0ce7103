package io.courier.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The runner goes on after a failed scenario, and the report renders every entry with the same columns. */
class BenchTest {

    @TempDir
    Path out;

    @Test
    void aFailedScenarioIsReportedAndTheNextOneRuns() throws Exception {
        Scenario broken = new Scenario("broken-e2e", "cannot connect", "none", 100, 2, 10,
                runId -> {
                    throw new IllegalStateException("no broker here");
                },
                runId -> {
                    throw new IllegalStateException("no broker here");
                });
        Scenario memory = MemoryScenarios.scenarios().get(0);

        List<String> failed = Bench.runAll(List.of(broken, memory), 1, 1, 0, out);

        assertThat(failed).containsExactly("broken-e2e");
        List<Map<String, Object>> entries = new ObjectMapper().readValue(out.resolve("latest.json").toFile(),
                new TypeReference<List<Map<String, Object>>>() {
                });
        assertThat(entries).extracting(e -> e.get("scenario")).containsExactly("broken-e2e", memory.name());
        assertThat(String.valueOf(entries.get(0).get("error"))).contains("no broker here");
        Map<String, Object> ok = entries.get(1);
        assertThat(ok).doesNotContainKey("error");
        assertThat(((Number) ok.get("courier_probe_per_s")).doubleValue()).isPositive();
        assertThat(((Number) ok.get("reference_probe_per_s")).doubleValue()).isPositive();
        assertThat(((Number) ok.get("courier_mb_per_s")).doubleValue()).isPositive();
        assertThat(((Number) ok.get("reference_mb_per_s")).doubleValue()).isPositive();
        // The latency rate follows from the slower side's single-message probe, within the scenario's cap.
        double slowerProbe = Math.min(((Number) ok.get("courier_probe_per_s")).doubleValue(),
                ((Number) ok.get("reference_probe_per_s")).doubleValue());
        double rate = ((Number) ok.get("latency_rate_per_s")).doubleValue();
        assertThat(rate).isLessThanOrEqualTo(Math.max(10, Math.floor(slowerProbe / 2) + 1));
        assertThat(rate).isLessThanOrEqualTo(memory.maxLatencyRate());

        String md = Files.readString(out.resolve("latest.md"));
        assertThat(md).contains("| broken-e2e | – |").contains("**failed**: java.lang.IllegalStateException: no broker here");
    }

    @Test
    void rowsOfOlderRunsRenderWithTheSameColumnsAndDashesForMissingValues() {
        Map<String, Object> full = Bench.entry(new Result("full", "d", 100, 10, 5, 5, 1000, 1100, "ref", 900, 950, 1.111,
                0.1, 0.09, List.of(1000.0), List.of(900.0), 12.3, 11.1, 400, 380, 190, 0.5, 2.5, 0.6, 3.0,
                Map.of("load_average", "1.00 1.00 1.00")));
        Map<String, Object> old = new LinkedHashMap<>();
        old.put("scenario", "old");
        old.put("courier_per_s", 4896.0);
        old.put("reference", "plain JDBC");
        old.put("reference_per_s", 7195.0);
        old.put("ratio", 0.68);
        old.put("latency_rate_per_s", 2448.0);
        old.put("courier_cpu_us_per_msg", "NaN");
        Map<String, Object> failed = new LinkedHashMap<>();
        failed.put("scenario", "failed");
        failed.put("reference", "ref");
        failed.put("error", "java.io.IOException: a | b\nsecond line");

        String md = Bench.markdown(new ArrayList<>(List.of(full, old, failed)));

        List<String> rows = md.lines().filter(l -> l.startsWith("| ")).toList();
        assertThat(rows).hasSize(4); // header + 3 entries
        long columns = cells(rows.get(0));
        assertThat(rows).allSatisfy(r -> assertThat(cells(r)).isEqualTo(columns));
        assertThat(rows.get(1)).contains("| full | 1,000 | 0.10 | ref | 900 | 0.09 | 1.111 | 12.3 / 11.1 | 400 / 380 | 190 |");
        assertThat(rows.get(2)).startsWith("| old | 4,896 | – | plain JDBC | 7,195 | – | 0.680 | – / – | – / – | 2,448 | – / – | – / – | – |");
        assertThat(rows.get(3)).contains("**failed**: java.io.IOException: a \\| b second line");
    }

    /** Publishes nothing anywhere and never consumes; counts what it was given. */
    private static final class CountingPipeline implements Pipeline {
        final AtomicLong published = new AtomicLong();

        @Override
        public void start(Consumer<byte[]> onMessage) {
        }

        @Override
        public void publish(List<byte[]> batch) {
            published.addAndGet(batch.size());
        }

        @Override
        public void close() {
        }
    }

    @Test
    void aPublishOnlyScenarioAlternatesThreeSidesPerRoundAndReportsTheExtraReferencesMedianAndRatio() throws Exception {
        List<String> order = new CopyOnWriteArrayList<>();
        List<Long> asked = new CopyOnWriteArrayList<>();
        List<Double> rates = List.of(100_000.0, 300_000.0, 200_000.0);
        Scenario.ExtraReference extra = new Scenario.ExtraReference() {
            @Override
            public String key() {
                return "producer_performance";
            }

            @Override
            public Map<String, Object> run(Scenario s, long messages) {
                order.add("extra");
                asked.add(messages);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("producer_performance_records", messages);
                m.put("producer_performance_per_s", rates.get(asked.size() - 1));
                return m;
            }
        };
        // A consumer is never started: with an end-to-end scenario's rules the phase would wait for
        // messages that never come and fail.
        Scenario s = new Scenario("fake-publish-16b", "publish only", "counting", 16, 2, 10,
                runId -> {
                    order.add("courier");
                    return new CountingPipeline();
                },
                runId -> {
                    order.add("reference");
                    return new CountingPipeline();
                }, 0, extra, true);

        List<String> failed = Bench.runAll(List.of(s), 1, 3, 0, out);

        assertThat(failed).isEmpty();
        assertThat(order).containsExactly("courier", "reference", "extra", "extra", "reference", "courier",
                "courier", "reference", "extra");

        Map<String, Object> e = new ObjectMapper().readValue(out.resolve("latest.json").toFile(),
                new TypeReference<List<Map<String, Object>>>() {
                }).get(0);
        // Each run is asked for a second at the higher of Courier's latest rate and its own of the round
        // before: rounds C R X, X R C, C R X, so Courier's rates of rounds 1, 1 and 3.
        List<?> courierRounds = (List<?>) e.get("courier_rounds_per_s");
        double[] expected = {
            rate(courierRounds.get(0)),
            Math.max(rate(courierRounds.get(0)), 100_000),
            Math.max(rate(courierRounds.get(2)), 300_000)};
        for (int i = 0; i < 3; i++) {
            assertThat((double) asked.get(i)).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1.0));
        }
        assertThat(e).containsEntry("publish_only", true).doesNotContainKeys(Bench.NOT_PUBLISH_ONLY.toArray(String[]::new));
        double courier = ((Number) e.get("courier_per_s")).doubleValue();
        assertThat(courier).isPositive().isEqualTo(((Number) e.get("courier_publish_per_s")).doubleValue());
        assertThat(((Number) e.get("producer_performance_per_s")).doubleValue()).isEqualTo(200_000.0);
        assertThat(e.get("producer_performance_rounds_per_s")).isEqualTo(List.of(100_000.0, 300_000.0, 200_000.0));
        // the median round's other figures
        assertThat(((Number) e.get("producer_performance_records")).longValue()).isEqualTo(asked.get(2));
        assertThat(((Number) e.get("producer_performance_ratio")).doubleValue())
                .isCloseTo(courier / 200_000.0, org.assertj.core.data.Offset.offset(0.001));

        String md = Files.readString(out.resolve("latest.md"));
        assertThat(md).contains("## Publish only").contains("| fake-publish-16b | ").contains(" | 200,000 | ");
        assertThat(md.lines().filter(l -> l.startsWith("| fake-publish-16b")).count()).isEqualTo(1);
    }

    private static double rate(Object o) {
        return ((Number) o).doubleValue();
    }

    /** Cells of a table row: the pipes that are not escaped, minus one. */
    private static long cells(String row) {
        long pipes = 0;
        for (int i = 0; i < row.length(); i++) {
            if (row.charAt(i) == '|' && (i == 0 || row.charAt(i - 1) != '\\')) {
                pipes++;
            }
        }
        return pipes - 1;
    }
}
