/**
 * Durable sagas: {@link io.courier.saga.SagaDefinition} describes the steps,
 * {@link io.courier.saga.SagaOrchestrator} runs them with state in SQL and commands through the
 * outbox, {@link io.courier.saga.SagaParticipant} answers commands, and
 * {@link io.courier.saga.SagaOperations} lets operators list, inspect, retry and abort. Guide:
 * {@code docs/sagas.md}.
 */
package io.courier.saga;
