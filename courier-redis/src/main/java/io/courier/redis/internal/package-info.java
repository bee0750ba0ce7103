/**
 * Implementation of the Redis Streams transport: key naming, the entry layout, the Lua scripts,
 * the publisher, subscriptions and the mover of due messages. Not API: may change in any release.
 */
package io.courier.redis.internal;
