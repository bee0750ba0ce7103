package io.courier.benchmarks;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import org.HdrHistogram.Histogram;

/**
 * The benchmark runner: {@code scripts/bench [--seconds N] [--rounds N] [--warmup N] [--out DIR] [scenario ...]}.
 *
 * <p>For each scenario it runs, in one process: an unmeasured warm-up of each side (so that neither
 * side pays for the JIT in its figures), then {@code rounds} rounds of throughput phases (publishers
 * as fast as they can while a consumer drains; end-to-end rate = messages / time until the last was
 * consumed), Courier and the reference alternating in the order C R, R C, C R, ... so that a drift
 * in machine load hits both alike; the medians of the rounds are reported. Then a short probe of each
 * side with one message per publish (the latency phase's way of publishing), and a latency phase for
 * each side at the same fixed rate: half of the slower side's probe rate, capped by the scenario's
 * {@link Scenario#maxLatencyRate()}; latency from the scheduled send time. Last, the scenario's
 * {@linkplain Scenario#extra() extra reference}, if it has one.
 *
 * <p>A {@linkplain Scenario#publishOnly() publish-only} scenario has no consumer, no probe and no
 * latency phase: after the warm-up, each round runs Courier, the reference and the extra reference
 * one after the other (C R X, X R C, ...), and the medians of the publish rates are reported.
 *
 * <p>A scenario that fails is reported on stderr and written to the results with an {@code error}
 * field; the run goes on with the next scenario and exits with status 1 at the end. The results are
 * written after every scenario to {@code latest.json} and {@code latest.md} in the output directory
 * ({@code docs/benchmarks} by default), keeping the entries of scenarios not run this time.
 */
public final class Bench {

    private static final long WARMUP_MESSAGES = 200_000;
    private static final int MAX_WARMUP_PHASES = 8;
    /** A side is warm when its latest warm-up phase was no more than this much faster than the one before. */
    private static final double WARM_WHEN_RISING_LESS_THAN = 1.10;
    /** Longest probe phase (single-message throughput), seconds; shorter when {@code --seconds} is. */
    private static final int MAX_PROBE_SECONDS = 3;
    /** A side is warm when the JIT compilers ran for at most this share of its latest warm-up phase. */
    private static final double WARM_WHEN_COMPILING_LESS_THAN = 0.01;
    private static final String MISSING = "–";

    private Bench() {
    }

    /** Entry point; exits with status 1 when a scenario failed, 2 on bad arguments. */
    public static void main(String[] args) throws Exception {
        int seconds = 10;
        int rounds = 5;
        int warmup = 5;
        Path out = Path.of("docs/benchmarks");
        List<String> names = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--seconds" -> seconds = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                case "--list" -> {
                    Scenarios.all().values().forEach(s -> System.out.printf("%-28s %s%n", s.name(), s.description()));
                    TaskBench.list();
                    InspectorBench.list();
                    return;
                }
                case "-h", "--help" -> {
                    System.out.println("usage: scripts/bench [--seconds N] [--rounds N] [--warmup N] [--out DIR] [--list] [scenario ...]");
                    return;
                }
                default -> names.add(args[i]);
            }
        }
        if (seconds < 1) {
            throw new IllegalArgumentException("--seconds must be >= 1, but was " + seconds);
        }
        if (rounds < 1) {
            throw new IllegalArgumentException("--rounds must be >= 1, but was " + rounds);
        }
        if (warmup < 0) {
            throw new IllegalArgumentException("--warmup must be >= 0, but was " + warmup);
        }
        Map<String, Scenario> all = Scenarios.all();
        List<Scenario> chosen = new ArrayList<>();
        boolean everything = names.isEmpty();
        List<String> taskNames = everything ? TaskBench.names() : TaskBench.take(names);   // tasks-*: see TaskBench
        List<String> inspectorNames = InspectorBench.take(names);   // inspector-*: only when named
        if (everything) {
            chosen.addAll(all.values());
        } else {
            for (String n : names) {
                Scenario s = all.get(n);
                if (s == null) {
                    System.err.println("unknown scenario '" + n + "'; known: " + String.join(", ", all.keySet()));
                    System.exit(2);
                }
                chosen.add(s);
            }
        }

        System.out.println("machine: " + Machine.oneLine());
        List<String> failed = runAll(chosen, seconds, rounds, warmup, out);
        if (!taskNames.isEmpty()) {
            try {
                TaskBench.run(taskNames, seconds, out);
            } catch (Exception | AssertionError e) {
                System.err.printf("%n!! task scenarios %s failed:%n", taskNames);
                e.printStackTrace();
                failed.addAll(taskNames);
            }
        }
        if (!inspectorNames.isEmpty()) {
            try {
                InspectorBench.run(inspectorNames, out);
            } catch (Exception | AssertionError e) {
                System.err.printf("%n!! inspector scenarios %s failed:%n", inspectorNames);
                e.printStackTrace();
                failed.addAll(inspectorNames);
            }
        }
        System.out.println("\nwrote " + out.resolve("latest.json") + " and " + out.resolve("latest.md"));
        if (!failed.isEmpty()) {
            System.err.println("failed: " + String.join(", ", failed));
        }
        System.out.flush();
        System.err.flush();
        // Exit explicitly: a broken pipeline may have left threads behind that would keep the JVM alive.
        System.exit(failed.isEmpty() ? 0 : 1);
    }

    /**
     * Runs {@code scenarios} one after the other, writing the results after each; a scenario that fails
     * is reported on stderr and written with an {@code error} field, and the next one runs.
     *
     * @return the names of the scenarios that failed (or whose extra reference failed)
     */
    static List<String> runAll(List<Scenario> scenarios, int seconds, int rounds, int warmup, Path out) throws Exception {
        List<String> failed = new ArrayList<>();
        for (Scenario s : scenarios) {
            Map<String, Object> entry;
            try {
                entry = run(s, seconds, rounds, warmup);
            } catch (Exception | AssertionError e) {
                System.err.printf("%n!! scenario %s failed:%n", s.name());
                e.printStackTrace();
                entry = failure(s, seconds, rounds, warmup, e);
            }
            if (entry.get("error") != null || entry.keySet().stream().anyMatch(k -> k.endsWith("_error"))) {
                failed.add(s.name());
            }
            write(out, List.of(entry));   // after every scenario, so that a later crash loses nothing
        }
        return failed;
    }

    static Map<String, Object> run(Scenario s, int seconds, int rounds, int warmup) throws Exception {
        System.out.printf("%n== %s: %s (%d s per phase, %d rounds, %d s warm-up)%n", s.name(), s.description(), seconds, rounds, warmup);
        System.out.println("load average: " + Machine.loadAverage());
        if (s.publishOnly()) {
            return runPublishOnly(s, seconds, rounds, warmup);
        }
        if (warmup > 0) {
            warmUp(s, warmup);
        }
        List<Driver.Throughput> courier = new ArrayList<>();
        List<Driver.Throughput> reference = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            // Alternate who goes first, so that a change of machine load during the run hits both sides alike.
            boolean courierFirst = round % 2 == 0;
            for (int side = 0; side < 2; side++) {
                boolean isCourier = (side == 0) == courierFirst;
                Driver.Throughput t = Driver.throughput(s, isCourier ? s.courier() : s.raw(), seconds);
                (isCourier ? courier : reference).add(t);
                System.out.printf(Locale.ROOT, "round %d %-9s throughput: publish %,.0f/s, end to end %,.0f/s (%,d msgs, %.1f us CPU/msg)%n",
                        round + 1, isCourier ? "courier" : "reference", t.publishPerSec(), t.endToEndPerSec(), t.published(),
                        t.cpuMicrosPerMessage());
            }
        }
        double c = median(courier, Driver.Throughput::endToEndPerSec);
        double r = median(reference, Driver.Throughput::endToEndPerSec);
        System.out.printf(Locale.ROOT, "median end to end: courier %,.0f/s, reference %,.0f/s, ratio %.3f%n", c, r, c / r);

        // The latency phase publishes one message per call: its rate must follow from what each side
        // does that way, not from the batched throughput (which is many times higher for SQL).
        int probeSeconds = Math.min(seconds, MAX_PROBE_SECONDS);
        Driver.Throughput cp = Driver.throughput(s, s.courier(), probeSeconds, 1);
        Driver.Throughput rp = Driver.throughput(s, s.raw(), probeSeconds, 1);
        double rate = Math.max(10, Math.floor(0.5 * Math.min(cp.endToEndPerSec(), rp.endToEndPerSec())));
        if (s.maxLatencyRate() > 0) {
            rate = Math.min(rate, s.maxLatencyRate());
        }
        System.out.printf(Locale.ROOT, "probe, one message per publish (%d s): courier %,.0f/s, reference %,.0f/s; latency rate %,.0f/s%n",
                probeSeconds, cp.endToEndPerSec(), rp.endToEndPerSec(), rate);
        Driver.Latency cl = Driver.latency(s, s.courier(), seconds, rate);
        Driver.Latency rl = Driver.latency(s, s.raw(), seconds, rate);
        System.out.printf(Locale.ROOT, "latency at %,.0f msg/s: courier p50 %.2f ms p99 %.2f ms; reference p50 %.2f ms p99 %.2f ms%n",
                rate, ms(cl.latency(), 50), ms(cl.latency(), 99), ms(rl.latency(), 50), ms(rl.latency(), 99));

        Map<String, Object> extra = new LinkedHashMap<>();
        if (s.extra() != null) {
            long published = Math.round(median(courier, t -> t.published()));
            try {
                extra.putAll(s.extra().run(s, published));
            } catch (Exception e) {
                System.err.printf("%n!! %s of scenario %s failed:%n", s.extra().key(), s.name());
                e.printStackTrace();
                extra.put(s.extra().key() + "_error", String.valueOf(e));
            }
        }
        System.out.println("load average: " + Machine.loadAverage());

        Result result = new Result(s.name(), s.description(), s.payloadBytes(), seconds, rounds, warmup,
                round(c), round(median(courier, Driver.Throughput::publishPerSec)), s.reference(),
                round(r), round(median(reference, Driver.Throughput::publishPerSec)),
                Math.round(c / r * 1000) / 1000.0,
                Result.mbPerSec(c, s.payloadBytes()), Result.mbPerSec(r, s.payloadBytes()),
                courier.stream().map(t -> round(t.endToEndPerSec())).toList(),
                reference.stream().map(t -> round(t.endToEndPerSec())).toList(),
                cpuPerMessage(courier), cpuPerMessage(reference),
                round(cp.endToEndPerSec()), round(rp.endToEndPerSec()), rate,
                ms(cl.latency(), 50), ms(cl.latency(), 99), ms(rl.latency(), 50), ms(rl.latency(), 99),
                Machine.describe());
        Map<String, Object> entry = entry(result);
        Object machine = entry.remove("machine");
        entry.putAll(extra);
        entry.put("machine", machine);
        return entry;
    }

    /** The fields a publish-only entry does not have: nothing is consumed, so there is no probe or latency phase. */
    static final List<String> NOT_PUBLISH_ONLY = List.of("courier_probe_per_s", "reference_probe_per_s", "latency_rate_per_s",
            "courier_p50_ms", "courier_p99_ms", "reference_p50_ms", "reference_p99_ms");

    /**
     * A {@linkplain Scenario#publishOnly() publish-only} scenario: the warm-up, then {@code rounds}
     * rounds in which Courier, the reference pipeline and the extra reference (if the scenario has
     * one) each publish for about {@code seconds}, in the order C R X, X R C, C R X, ... so that a
     * change of machine load hits all three alike. The extra reference is given as many messages as
     * make {@code seconds} at the higher of Courier's latest rate and its own of the round before. No
     * probe and no latency phase. Its entry: Courier's and the reference's medians, their ratio, the
     * extra reference's median rate ({@code <key>_per_s}), its per-round rates
     * ({@code <key>_rounds_per_s}), its other figures from its median round (the slower middle one for
     * an even count), and Courier's median / its median ({@code <key>_ratio}).
     */
    private static Map<String, Object> runPublishOnly(Scenario s, int seconds, int rounds, int warmup) throws Exception {
        if (warmup > 0) {
            warmUp(s, warmup);
        }
        Scenario.ExtraReference x = s.extra();
        String perSecKey = x == null ? null : x.key() + "_per_s";
        List<Driver.Throughput> courier = new ArrayList<>();
        List<Driver.Throughput> reference = new ArrayList<>();
        List<Map<String, Object>> extras = new ArrayList<>();
        String extraError = null;
        for (int round = 0; round < rounds; round++) {
            List<String> order = round % 2 == 0 ? List.of("courier", "reference", "extra") : List.of("extra", "reference", "courier");
            for (String side : order) {
                if (side.equals("extra")) {
                    if (x == null || extraError != null) {
                        continue;
                    }
                    // Sized for about a round at the higher of Courier's and its own latest rate: its own
                    // alone, after one disturbed round, would shrink every round after it (and its warm-up).
                    double lastRate = courier.get(courier.size() - 1).publishPerSec();
                    if (!extras.isEmpty()) {
                        lastRate = Math.max(lastRate, ((Number) extras.get(extras.size() - 1).get(perSecKey)).doubleValue());
                    }
                    try {
                        Map<String, Object> fields = x.run(s, Math.round(seconds * lastRate));
                        if (!(fields.get(perSecKey) instanceof Number)) {
                            throw new IllegalStateException(x.key() + " reported no " + perSecKey + ": " + fields);
                        }
                        extras.add(fields);
                        System.out.printf(Locale.ROOT, "round %d %-9s publish %,.0f/s%n", round + 1, x.key(),
                                ((Number) fields.get(perSecKey)).doubleValue());
                    } catch (Exception e) {
                        System.err.printf("%n!! %s of scenario %s failed:%n", x.key(), s.name());
                        e.printStackTrace();
                        extraError = String.valueOf(e);
                    }
                    continue;
                }
                boolean isCourier = side.equals("courier");
                Driver.Throughput t = Driver.throughput(s, isCourier ? s.courier() : s.raw(), seconds);
                (isCourier ? courier : reference).add(t);
                System.out.printf(Locale.ROOT, "round %d %-9s publish %,.0f/s (%,d msgs, %.1f us CPU/msg)%n",
                        round + 1, side, t.publishPerSec(), t.published(), t.cpuMicrosPerMessage());
            }
        }
        double c = median(courier, Driver.Throughput::publishPerSec);
        double r = median(reference, Driver.Throughput::publishPerSec);
        System.out.printf(Locale.ROOT, "median publish: courier %,.0f/s, reference %,.0f/s, ratio %.3f%n", c, r, c / r);

        Map<String, Object> extra = new LinkedHashMap<>();
        if (!extras.isEmpty()) {
            List<Map<String, Object>> sorted = new ArrayList<>(extras);
            sorted.sort(java.util.Comparator.comparingDouble(m -> ((Number) m.get(perSecKey)).doubleValue()));
            double[] rates = sorted.stream().mapToDouble(m -> ((Number) m.get(perSecKey)).doubleValue()).toArray();
            double median = rates.length % 2 == 1 ? rates[rates.length / 2] : (rates[rates.length / 2 - 1] + rates[rates.length / 2]) / 2;
            extra.putAll(sorted.get((sorted.size() - 1) / 2));
            extra.put(perSecKey, round(median));
            extra.put(x.key() + "_rounds_per_s", extras.stream().map(m -> round(((Number) m.get(perSecKey)).doubleValue())).toList());
            extra.put(x.key() + "_ratio", Math.round(c / median * 1000) / 1000.0);
            System.out.printf(Locale.ROOT, "median publish: %s %,.0f/s, courier / %s %.3f%n", x.key(), median, x.key(), c / median);
        }
        if (extraError != null) {
            extra.put(x.key() + "_error", extraError);
        }
        System.out.println("load average: " + Machine.loadAverage());

        Result result = new Result(s.name(), s.description(), s.payloadBytes(), seconds, rounds, warmup,
                round(c), round(c), s.reference(), round(r), round(r), Math.round(c / r * 1000) / 1000.0,
                Result.mbPerSec(c, s.payloadBytes()), Result.mbPerSec(r, s.payloadBytes()),
                courier.stream().map(t -> round(t.publishPerSec())).toList(),
                reference.stream().map(t -> round(t.publishPerSec())).toList(),
                cpuPerMessage(courier), cpuPerMessage(reference),
                Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN,
                Machine.describe());
        Map<String, Object> entry = entry(result);
        NOT_PUBLISH_ONLY.forEach(entry::remove);
        Object machine = entry.remove("machine");
        entry.put("publish_only", true);
        entry.putAll(extra);
        entry.put("machine", machine);
        return entry;
    }

    /** The entry of a scenario that failed: what it is, when, and the error (message and stack trace). */
    private static Map<String, Object> failure(Scenario s, int seconds, int rounds, int warmup, Throwable e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("scenario", s.name());
        m.put("description", s.description());
        m.put("payload_bytes", s.payloadBytes());
        m.put("seconds", seconds);
        m.put("rounds", rounds);
        m.put("warmup_seconds", warmup);
        m.put("reference", s.reference());
        m.put("error", String.valueOf(e));
        StringWriter trace = new StringWriter();
        e.printStackTrace(new PrintWriter(trace));
        m.put("error_trace", trace.toString());
        m.put("failed_at", Instant.now().toString());
        m.put("machine", Machine.describe());
        return m;
    }

    /** {@code r} as the ordered map that is written to {@code latest.json}. */
    static Map<String, Object> entry(Result r) {
        return new ObjectMapper().convertValue(r, new TypeReference<LinkedHashMap<String, Object>>() {
        });
    }

    /**
     * Runs unmeasured throughput phases of {@code seconds}, both sides alternating, until each side
     * has handled {@value #WARMUP_MESSAGES} messages, is no longer speeding up (its latest phase no
     * more than 10% faster than its previous one) and no longer keeps the JIT compilers busy (at most
     * 1% of its latest phase's time spent compiling), or each has had {@value #MAX_WARMUP_PHASES}
     * phases. A message count alone was not enough: on this 2-core machine, with a broker JVM compiling
     * too, Kafka clients went from 28,000 to 67,000 to 98,000 msg/s over three phases of 200,000
     * messages. Speed alone was not enough either: on PostgreSQL, whose throughput is set by commit
     * latency more than by CPU, a side as fast as in its previous phase still compiled for 0.8 s during
     * the first measured phase of 10 s, with one of the two cores.
     */
    private static void warmUp(Scenario s, int seconds) throws Exception {
        Warming courier = new Warming(seconds);
        Warming reference = new Warming(seconds);
        for (int phase = 0; phase < MAX_WARMUP_PHASES && !(courier.warm() && reference.warm()); phase++) {
            long compiling = compileMillis();
            Driver.Throughput c = Driver.throughput(s, s.courier(), seconds);
            long courierCompiled = compileMillis() - compiling;
            Driver.Throughput r = Driver.throughput(s, s.raw(), seconds);
            long referenceCompiled = compileMillis() - compiling - courierCompiled;
            courier.add(c, courierCompiled);
            reference.add(r, referenceCompiled);
            System.out.printf(Locale.ROOT, "warm-up (not counted): courier %,.0f/s (%,d ms compiling), reference %,.0f/s"
                    + " (%,d ms compiling)%n", c.endToEndPerSec(), courierCompiled, r.endToEndPerSec(), referenceCompiled);
        }
    }

    /** Time the JIT compilers have spent so far, in milliseconds; 0 where the JVM does not tell. */
    private static long compileMillis() {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : 0;
    }

    /** One side's warm-up so far. */
    private static final class Warming {
        private final long phaseMillis;
        private long messages;
        private int phases;
        private double previous;
        private double latest;
        private long latestCompileMillis;

        Warming(int phaseSeconds) {
            this.phaseMillis = phaseSeconds * 1000L;
        }

        void add(Driver.Throughput t, long compileMillis) {
            messages += t.published();
            phases++;
            previous = latest;
            latest = t.endToEndPerSec();
            latestCompileMillis = compileMillis;
        }

        boolean warm() {
            return messages >= WARMUP_MESSAGES && phases >= 2 && latest <= previous * WARM_WHEN_RISING_LESS_THAN
                    && latestCompileMillis <= phaseMillis * WARM_WHEN_COMPILING_LESS_THAN;
        }
    }

    private static double median(List<Driver.Throughput> runs, ToDoubleFunction<Driver.Throughput> f) {
        double[] v = runs.stream().mapToDouble(f).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** CPU time per message over all rounds of one side, in microseconds (one decimal). */
    private static double cpuPerMessage(List<Driver.Throughput> runs) {
        long cpu = 0;
        long messages = 0;
        for (Driver.Throughput t : runs) {
            if (t.cpuNanos() < 0) {
                return Double.NaN;
            }
            cpu += t.cpuNanos();
            messages += t.published();
        }
        return Math.round(cpu / 1e2 / messages) / 10.0;
    }

    private static double ms(Histogram h, double percentile) {
        return Math.round(h.getValueAtPercentile(percentile) / 1e4) / 100.0;
    }

    private static double round(double v) {
        return Math.round(v);
    }

    /**
     * Adds {@code entries} to {@code dir/latest.json} (replacing earlier entries of the same scenarios,
     * keeping the others) and rebuilds {@code dir/latest.md} from all of it.
     */
    static void write(Path dir, List<Map<String, Object>> entries) throws Exception {
        Files.createDirectories(dir);
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        // Keep figures of scenarios not run this time, so a partial run does not erase the others.
        Path json = dir.resolve("latest.json");
        Map<String, Map<String, Object>> byName = new LinkedHashMap<>();
        if (Files.exists(json)) {
            for (Map<String, Object> old : mapper.readValue(json.toFile(), new TypeReference<List<LinkedHashMap<String, Object>>>() {
            })) {
                byName.put(String.valueOf(old.get("scenario")), old);
            }
        }
        for (Map<String, Object> e : entries) {
            byName.put(String.valueOf(e.get("scenario")), e);
        }
        mapper.writeValue(json.toFile(), new ArrayList<>(byName.values()));
        Files.writeString(dir.resolve("latest.md"), markdown(new ArrayList<>(byName.values())));
    }

    /** The report: one row per entry, a fixed number of cells each, "–" for what an entry lacks. */
    static String markdown(List<Map<String, Object>> entries) {
        StringBuilder md = new StringBuilder();
        md.append("# Latest benchmark results\n\n")
          .append("Written by `scripts/bench` on ").append(Instant.now()).append(".\n\n")
          .append("Machine: ").append(Machine.oneLine()).append(".\n\n")
          .append("End-to-end throughput: publishers publish durably as fast as they can while a consumer drains; ")
          .append("rate = messages / time until the last one was consumed; the median of the rounds (Courier and the ")
          .append("reference alternating, after an unmeasured warm-up of each). MB/s: payload bytes only (MB = 2^20 bytes). ")
          .append("CPU: this process's CPU time per message (client side only; the broker's CPU is not included). ")
          .append("Probe: each side's end-to-end rate with one message per publish. Latency: both sides at the same fixed ")
          .append("rate (half the slower side's probe rate, capped per scenario), one message per publish, measured from ")
          .append("the scheduled send time to the handler. Load: the machine's load averages (1, 5, 15 min) when the ")
          .append("scenario ended: the machine is shared and figures vary with it. \"–\": not measured (rows from older ")
          .append("runs of the harness, or a scenario that failed).\n\n")
          .append("| scenario | courier msg/s | courier MB/s | reference | reference msg/s | reference MB/s | ratio ")
          .append("| CPU us/msg courier / reference | probe msg/s courier / reference | rate for latency ")
          .append("| courier p50 / p99 ms | reference p50 / p99 ms | load |\n")
          .append("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Map<String, Object> r : entries) {
            if (publishOnly(r)) {
                continue;   // their own table below
            }
            Map<?, ?> machine = r.get("machine") instanceof Map<?, ?> m ? m : Map.of();
            Object error = r.get("error");
            String reference = text(r.get("reference"));
            if (error != null) {
                reference = "**failed**: " + text(error);
            }
            md.append(row(
                    text(r.get("scenario")),
                    cell(r.get("courier_per_s"), "%,.0f"),
                    cell(r.get("courier_mb_per_s"), "%,.2f"),
                    reference,
                    cell(r.get("reference_per_s"), "%,.0f"),
                    cell(r.get("reference_mb_per_s"), "%,.2f"),
                    cell(r.get("ratio"), "%.3f"),
                    pair(r.get("courier_cpu_us_per_msg"), r.get("reference_cpu_us_per_msg"), "%.1f"),
                    pair(r.get("courier_probe_per_s"), r.get("reference_probe_per_s"), "%,.0f"),
                    cell(r.get("latency_rate_per_s"), "%,.0f"),
                    pair(r.get("courier_p50_ms"), r.get("courier_p99_ms"), "%.2f"),
                    pair(r.get("reference_p50_ms"), r.get("reference_p99_ms"), "%.2f"),
                    text(machine.get("load_average"))));
        }

        List<Map<String, Object>> publishOnly = entries.stream().filter(Bench::publishOnly).toList();
        if (!publishOnly.isEmpty()) {
            md.append("\n## Publish only (`*-publish-*`)\n\n")
              .append("Publishing alone, nothing consumes: publishers publish durably as fast as they can, rate = messages / ")
              .append("time until the last publish returned (every message acknowledged); the median of the rounds. In each ")
              .append("round Courier, the reference and, for Kafka, Kafka's own `ProducerPerformance` (a child JVM, same ")
              .append("producer settings and record size, about as many seconds) run one after the other, the order reversed ")
              .append("every round (C R P, P R C, ...). *courier / PP*: median Courier / median ProducerPerformance. Rounds: ")
              .append("each round's rate, in round order.\n\n")
              .append("| scenario | courier msg/s | courier MB/s | reference | reference msg/s | ratio | ProducerPerformance msg/s ")
              .append("| courier / PP | rounds courier; reference; PP | CPU us/msg courier / reference | load |\n")
              .append("|---|---:|---:|---|---:|---:|---:|---:|---|---:|---:|\n");
            for (Map<String, Object> r : publishOnly) {
                Map<?, ?> machine = r.get("machine") instanceof Map<?, ?> m ? m : Map.of();
                String reference = r.get("error") != null ? "**failed**: " + text(r.get("error")) : text(r.get("reference"));
                String pp = r.get("producer_performance_error") != null && r.get("producer_performance_per_s") == null
                        ? "**failed**: " + text(r.get("producer_performance_error"))
                        : cell(r.get("producer_performance_per_s"), "%,.0f");
                md.append(row(
                        text(r.get("scenario")),
                        cell(r.get("courier_per_s"), "%,.0f"),
                        cell(r.get("courier_mb_per_s"), "%,.2f"),
                        reference,
                        cell(r.get("reference_per_s"), "%,.0f"),
                        cell(r.get("ratio"), "%.3f"),
                        pp,
                        cell(r.get("producer_performance_ratio"), "%.3f"),
                        list(r.get("courier_rounds_per_s")) + "; " + list(r.get("reference_rounds_per_s")) + "; "
                                + list(r.get("producer_performance_rounds_per_s")),
                        pair(r.get("courier_cpu_us_per_msg"), r.get("reference_cpu_us_per_msg"), "%.1f"),
                        text(machine.get("load_average"))));
            }
        }

        List<Map<String, Object>> perf = entries.stream()
                .filter(e -> !publishOnly(e))
                .filter(e -> e.containsKey("producer_performance_per_s") || e.containsKey("producer_performance_error"))
                .toList();
        if (!perf.isEmpty()) {
            md.append("\n## Kafka ProducerPerformance (`kafka-*`)\n\n")
              .append("A second reference for the Kafka scenarios: Kafka's own producer benchmark ")
              .append("(`org.apache.kafka.tools.ProducerPerformance`, run by `scripts/perftest-kafka`) with the same producer ")
              .append("settings, record size and about as many records as Courier published in a round. It only publishes ")
              .append("(one thread, sends without waiting, nothing consumes) and its latency is send to acknowledgement: ")
              .append("compare it with Courier's *publish* rate, not with the end-to-end figures above.\n\n")
              .append("| scenario | records | courier publish msg/s | ProducerPerformance msg/s | ProducerPerformance MB/s ")
              .append("| avg / p50 / p99 / max ms (send to ack) |\n")
              .append("|---|---:|---:|---:|---:|---:|\n");
            for (Map<String, Object> e : perf) {
                String perSec = e.get("producer_performance_error") != null
                        ? "**failed**: " + text(e.get("producer_performance_error"))
                        : cell(e.get("producer_performance_per_s"), "%,.0f");
                md.append(row(
                        text(e.get("scenario")),
                        cell(e.get("producer_performance_records"), "%,.0f"),
                        cell(e.get("courier_publish_per_s"), "%,.0f"),
                        perSec,
                        cell(e.get("producer_performance_mb_per_s"), "%,.2f"),
                        cell(e.get("producer_performance_avg_ms"), "%.2f") + " / " + cell(e.get("producer_performance_p50_ms"), "%.0f")
                                + " / " + cell(e.get("producer_performance_p99_ms"), "%.0f") + " / "
                                + cell(e.get("producer_performance_max_ms"), "%.0f")));
            }
        }

        List<Map<String, Object>> tasks = entries.stream()
                .filter(e -> String.valueOf(e.get("scenario")).startsWith("tasks-"))
                .toList();
        if (!tasks.isEmpty()) {
            md.append("\n## Task queue (`tasks-*`)\n\n")
              .append("For `tasks-*` rows, *msg/s* is the **burn-down rate**: tasks processed per second while working off a ")
              .append("backlog of N no-op tasks (from the first handler call to the last). The reference is ")
              .append(TaskBench.REFERENCE).append(" on the same PostgreSQL, run once per run; the ratio is Courier's rate / JobRunr's. ")
              .append("Latency is enqueue-to-handler-start at the fixed rate. See docs/tasks.md, \"Benchmark\".\n\n")
              .append("| scenario | tasks | workers | courier enqueue/s | reference enqueue/s | courier burn-down/s | reference burn-down/s | ratio |\n")
              .append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
            for (Map<String, Object> e : tasks) {
                md.append(row(
                        text(e.get("scenario")),
                        cell(e.get("tasks"), "%,.0f"),
                        cell(e.get("workers"), "%.0f"),
                        cell(e.get("courier_enqueue_per_s"), "%,.0f"),
                        cell(e.get("reference_enqueue_per_s"), "%,.0f"),
                        cell(e.get("courier_per_s"), "%,.0f"),
                        cell(e.get("reference_per_s"), "%,.0f"),
                        cell(e.get("ratio"), "%.2f")));
            }
        }
        return md.toString();
    }

    private static boolean publishOnly(Map<String, Object> entry) {
        return Boolean.TRUE.equals(entry.get("publish_only"));
    }

    /** A list of rates as {@code 1,234 / 5,678}, or "–" when missing. */
    static String list(Object o) {
        if (!(o instanceof List<?> values) || values.isEmpty()) {
            return MISSING;
        }
        return String.join(" / ", values.stream().map(v -> cell(v, "%,.0f")).toList());
    }

    private static String row(String... cells) {
        return "| " + String.join(" | ", cells) + " |\n";
    }

    /** A number formatted with {@code format}, or "–" when {@code o} is missing, not a number or NaN. */
    static String cell(Object o, String format) {
        if (!(o instanceof Number n) || Double.isNaN(n.doubleValue()) || Double.isInfinite(n.doubleValue())) {
            return MISSING;
        }
        return String.format(Locale.ROOT, format, n.doubleValue());
    }

    private static String pair(Object a, Object b, String format) {
        return cell(a, format) + " / " + cell(b, format);
    }

    /** Text for one table cell: "–" when missing; on one line, no pipes, at most 160 characters. */
    static String text(Object o) {
        if (o == null || String.valueOf(o).isBlank()) {
            return MISSING;
        }
        String s = String.valueOf(o).replace('\n', ' ').replace('\r', ' ').replace("|", "\\|");
        return s.length() > 160 ? s.substring(0, 157) + "..." : s;
    }
}
