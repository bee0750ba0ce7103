/**
 * The standard middleware: each one small class wrapping a {@link io.courier.Handler} with one concern.
 *
 * <ul>
 *   <li>{@link io.courier.middleware.RecoveryMiddleware}: converts {@link Error}s into ordinary
 *       failures and logs what nothing else settled; add it first (outermost).</li>
 *   <li>{@link io.courier.middleware.DeadLetterMiddleware}: stores finally-failed messages in
 *       {@code <topic>.dlq} with the failure in headers, then acks them.</li>
 *   <li>{@link io.courier.middleware.RetryMiddleware}: exponential backoff with full jitter, bounded
 *       attempts, no retries of {@link io.courier.NonRetryableException}s; by durable redelivery or in place.</li>
 *   <li>{@link io.courier.middleware.TimeoutMiddleware}: interrupts and fails handlers that run too long.</li>
 *   <li>{@link io.courier.middleware.IdempotencyMiddleware}: runs the handler once per message and
 *       group, with an atomic claim in an {@link io.courier.IdempotencyStore}.</li>
 *   <li>{@link io.courier.middleware.CorrelationMiddleware}: propagates a correlation id to the
 *       messages a handler publishes.</li>
 * </ul>
 *
 * <p>The first middleware added to a {@link io.courier.Router} is the outermost. The recommended
 * order is the list above:
 *
 * <pre>{@code
 * Router router = Router.builder(transport)
 *     .use(new RecoveryMiddleware())
 *     .use(DeadLetterMiddleware.to(transport.publisher()))
 *     .use(RetryMiddleware.defaults())
 *     .use(new TimeoutMiddleware(Duration.ofSeconds(30)))
 *     .use(new IdempotencyMiddleware(store))
 *     .use(new CorrelationMiddleware())
 *     .build();
 * }</pre>
 *
 * <p>Dead-lettering sits outside retry so it receives only what retry gives up on; the timeout sits
 * inside retry so a timed-out attempt is retried; idempotency sits inside both so a failed attempt
 * releases its claim before the retry. See {@code docs/middleware.md} for the full guide.
 */
package io.courier.middleware;
