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
 * The benchmark runner: {@code scripts/bench [--seconds N] [--out DIR] [scenario ...]}.
 *
 * <p>For each scenario it runs, in one process and one after the other, a throughput phase for
 * Courier and for the reference (publishers as fast as they can while a consumer drains;
 * end-to-end rate = messages / time until the last was consumed), then a latency phase for each at
 * the same fixed rate (half of the slower side's throughput, one message per publish, latency from
 * the scheduled send time). It writes {@code latest.json} and {@code latest.md} to the output
 * directory ({@code docs/benchmarks} by default).
 */
public final class Bench {

    private Bench() {
    }

    /** Entry point. */
    public static void main(String[] args) throws Exception {
        int seconds = 10;
        Path out = Path.of("docs/benchmarks");
        List<String> names = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--seconds" -> seconds = Integer.parseInt(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                case "--list" -> {
                    Scenarios.all().values().forEach(s -> System.out.printf("%-28s %s%n", s.name(), s.description()));
                    TaskBench.list();
                    return;
                }
                case "-h", "--help" -> {
                    System.out.println("usage: scripts/bench [--seconds N] [--out DIR] [--list] [scenario ...]");
                    return;
                }
                default -> names.add(args[i]);
            }
        }
        if (seconds < 1) {
            throw new IllegalArgumentException("--seconds must be >= 1, but was " + seconds);
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
            results.add(run(s, seconds));
        }
        write(out, results);
        TaskBench.run(taskNames, seconds, out);
    }

    static Result run(Scenario s, int seconds) throws Exception {
        System.out.printf("%n== %s: %s (%d s per phase)%n", s.name(), s.description(), seconds);
        Driver.Throughput c = Driver.throughput(s, s.courier(), seconds);
        System.out.printf(Locale.ROOT, "courier   throughput: publish %,.0f/s, end to end %,.0f/s (%,d msgs)%n", c.publishPerSec(), c.endToEndPerSec(), c.published());
        Driver.Throughput r = Driver.throughput(s, s.raw(), seconds);
        System.out.printf(Locale.ROOT, "reference throughput: publish %,.0f/s, end to end %,.0f/s (%,d msgs)%n", r.publishPerSec(), r.endToEndPerSec(), r.published());

        double rate = Math.max(10, Math.floor(0.5 * Math.min(c.endToEndPerSec(), r.endToEndPerSec())));
        Driver.Latency cl = Driver.latency(s, s.courier(), seconds, rate);
        Driver.Latency rl = Driver.latency(s, s.raw(), seconds, rate);
        System.out.printf(Locale.ROOT, "latency at %,.0f msg/s: courier p50 %.2f ms p99 %.2f ms; reference p50 %.2f ms p99 %.2f ms%n",
                rate, ms(cl.latency(), 50), ms(cl.latency(), 99), ms(rl.latency(), 50), ms(rl.latency(), 99));

        return new Result(s.name(), s.description(), s.payloadBytes(), seconds,
                round(c.endToEndPerSec()), round(c.publishPerSec()), s.reference(),
                round(r.endToEndPerSec()), round(r.publishPerSec()),
                Math.round(c.endToEndPerSec() / r.endToEndPerSec() * 1000) / 1000.0, rate,
                ms(cl.latency(), 50), ms(cl.latency(), 99), ms(rl.latency(), 50), ms(rl.latency(), 99),
                Machine.describe());
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
          .append("rate = messages / time until the last one was consumed. Latency: both sides at the same fixed rate, ")
          .append("one message per publish, measured from the scheduled send time to the handler.\n\n")
          .append("| scenario | courier msg/s | reference | reference msg/s | ratio | rate for latency | courier p50 / p99 ms | reference p50 / p99 ms |\n")
          .append("|---|---:|---|---:|---:|---:|---:|---:|\n");
        for (Object o : byName.values()) {
            Map<?, ?> r = mapper.convertValue(o, Map.class);
            md.append(String.format(Locale.ROOT, "| %s | %,.0f | %s | %,.0f | %.3f | %,.0f | %.2f / %.2f | %.2f / %.2f |%n",
                    r.get("scenario"), num(r.get("courier_per_s")), r.get("reference"), num(r.get("reference_per_s")),
                    num(r.get("ratio")), num(r.get("latency_rate_per_s")), num(r.get("courier_p50_ms")), num(r.get("courier_p99_ms")),
                    num(r.get("reference_p50_ms")), num(r.get("reference_p99_ms"))));
        }
        Files.writeString(dir.resolve("latest.md"), md.toString());
        System.out.println("\nwrote " + json + " and " + dir.resolve("latest.md"));
    }

    private static double num(Object o) {
        return o instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
