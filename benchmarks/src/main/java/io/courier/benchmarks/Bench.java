package io.courier.benchmarks;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * The benchmark runner: {@code scripts/bench [--seconds N] [--rounds N] [--warmup N] [--out DIR] [scenario ...]}.
 *
 * <p>For each scenario it runs, in one process: an unmeasured warm-up of each side (so that neither
 * side pays for the JIT in its figures), then {@code rounds} rounds of throughput phases (publishers
 * as fast as they can while a consumer drains; end-to-end rate = messages / time until the last was
 * consumed), Courier and the reference alternating in the order C R, R C, C R, ... so that a drift
 * in machine load hits both alike; the medians of the rounds are reported. Then a latency phase for
 * each side at the same fixed rate (half of the slower side's throughput, capped by the scenario's
 * {@link Scenario#maxLatencyRate()}, one message per publish, latency from the scheduled send time).
 * It writes {@code latest.json} and {@code latest.md} to the output directory ({@code docs/benchmarks}
 * by default).
 */
public final class Bench {

    private static final long WARMUP_MESSAGES = 200_000;
    private static final int MAX_WARMUP_PHASES = 6;

    private Bench() {
    }

    /** Entry point. */
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
        List<Result> results = new ArrayList<>();
        for (Scenario s : chosen) {
            results.add(run(s, seconds, rounds, warmup));
        }
        write(out, results);
        TaskBench.run(taskNames, seconds, out);
    }

    static Result run(Scenario s, int seconds, int rounds, int warmup) throws Exception {
        System.out.printf("%n== %s: %s (%d s per phase, %d rounds, %d s warm-up)%n", s.name(), s.description(), seconds, rounds, warmup);
        System.out.println("load average: " + Machine.loadAverage());
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

        double rate = Math.max(10, Math.floor(0.5 * Math.min(c, r)));
        if (s.maxLatencyRate() > 0) {
            rate = Math.min(rate, s.maxLatencyRate());
        }
        Driver.Latency cl = Driver.latency(s, s.courier(), seconds, rate);
        Driver.Latency rl = Driver.latency(s, s.raw(), seconds, rate);
        System.out.printf(Locale.ROOT, "latency at %,.0f msg/s: courier p50 %.2f ms p99 %.2f ms; reference p50 %.2f ms p99 %.2f ms%n",
                rate, ms(cl.latency(), 50), ms(cl.latency(), 99), ms(rl.latency(), 50), ms(rl.latency(), 99));
        System.out.println("load average: " + Machine.loadAverage());

        return new Result(s.name(), s.description(), s.payloadBytes(), seconds, rounds, warmup,
                round(c), round(median(courier, Driver.Throughput::publishPerSec)), s.reference(),
                round(r), round(median(reference, Driver.Throughput::publishPerSec)),
                Math.round(c / r * 1000) / 1000.0,
                courier.stream().map(t -> round(t.endToEndPerSec())).toList(),
                reference.stream().map(t -> round(t.endToEndPerSec())).toList(),
                cpuPerMessage(courier), cpuPerMessage(reference), rate,
                ms(cl.latency(), 50), ms(cl.latency(), 99), ms(rl.latency(), 50), ms(rl.latency(), 99),
                Machine.describe());
    }

    /**
     * Runs unmeasured throughput phases of {@code seconds}, both sides alternating, until each side has
     * handled {@value #WARMUP_MESSAGES} messages (the JIT has then compiled its hot paths; on a busy
     * machine a fixed time is not enough) or has had {@value #MAX_WARMUP_PHASES} phases.
     */
    private static void warmUp(Scenario s, int seconds) throws Exception {
        long courier = 0;
        long reference = 0;
        for (int phase = 0; phase < MAX_WARMUP_PHASES && (courier < WARMUP_MESSAGES || reference < WARMUP_MESSAGES); phase++) {
            Driver.Throughput c = Driver.throughput(s, s.courier(), seconds);
            Driver.Throughput r = Driver.throughput(s, s.raw(), seconds);
            courier += c.published();
            reference += r.published();
            System.out.printf(Locale.ROOT, "warm-up (not counted): courier %,.0f/s, reference %,.0f/s%n", c.endToEndPerSec(), r.endToEndPerSec());
        }
    }

    private static double median(List<Driver.Throughput> runs, java.util.function.ToDoubleFunction<Driver.Throughput> f) {
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

    static void write(Path dir, List<Result> results) throws Exception {
        Files.createDirectories(dir);
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        // Keep figures of scenarios not run this time, so a partial run does not erase the others.
        Path json = dir.resolve("latest.json");
        Map<String, Object> byName = new LinkedHashMap<>();
        if (Files.exists(json)) {
            for (Map<?, ?> old : mapper.readValue(json.toFile(), Map[].class)) {
                byName.put(String.valueOf(old.get("scenario")), old);
            }
        }
        for (Result r : results) {
            byName.put(r.scenario(), r);
        }
        mapper.writeValue(json.toFile(), new ArrayList<>(byName.values()));

        StringBuilder md = new StringBuilder();
        md.append("# Latest benchmark results\n\n")
          .append("Written by `scripts/bench` on ").append(Instant.now()).append(".\n\n")
          .append("Machine: ").append(Machine.oneLine()).append(".\n\n")
          .append("End-to-end throughput: publishers publish durably as fast as they can while a consumer drains; ")
          .append("rate = messages / time until the last one was consumed; the median of the rounds (Courier and the ")
          .append("reference alternating, after an unmeasured warm-up of each). CPU: this process's CPU time per message ")
          .append("(client side only; the broker's CPU is not included). Latency: both sides at the same fixed rate, ")
          .append("one message per publish, measured from the scheduled send time to the handler. Load: the machine's ")
          .append("load averages (1, 5, 15 min) when the scenario ended: the machine is shared and figures vary with it.\n\n")
          .append("| scenario | courier msg/s | reference | reference msg/s | ratio | CPU us/msg courier / reference | rate for latency | courier p50 / p99 ms | reference p50 / p99 ms | load |\n")
          .append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Object o : byName.values()) {
            Map<?, ?> r = mapper.convertValue(o, Map.class);
            Map<?, ?> machine = r.get("machine") instanceof Map<?, ?> m ? m : Map.of();
            md.append(String.format(Locale.ROOT, "| %s | %,.0f | %s | %,.0f | %.3f | %.1f / %.1f | %,.0f | %.2f / %.2f | %.2f / %.2f | %s |%n",
                    r.get("scenario"), num(r.get("courier_per_s")), r.get("reference"), num(r.get("reference_per_s")),
                    num(r.get("ratio")), num(r.get("courier_cpu_us_per_msg")), num(r.get("reference_cpu_us_per_msg")),
                    num(r.get("latency_rate_per_s")), num(r.get("courier_p50_ms")), num(r.get("courier_p99_ms")),
                    num(r.get("reference_p50_ms")), num(r.get("reference_p99_ms")),
                    machine.get("load_average") == null ? "" : String.valueOf(machine.get("load_average"))));
        }
        Files.writeString(dir.resolve("latest.md"), md.toString());
        System.out.println("\nwrote " + json + " and " + dir.resolve("latest.md"));
    }

    private static double num(Object o) {
        return o instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
