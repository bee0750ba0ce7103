/**
 * The benchmark harness: each {@link io.courier.benchmarks.Scenario} runs Courier and the raw client
 * side by side with the same settings; {@link io.courier.benchmarks.Bench} writes the figures and
 * the ratio to {@code docs/benchmarks/}.
 */
package io.courier.benchmarks;
