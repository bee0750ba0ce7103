package io.courier.tasks.redis;

/**
 * The Lua scripts that make every state change of the Redis store atomic. Each takes the key
 * prefix as {@code ARGV[1]} and builds key names from it (so the store needs a single Redis node,
 * not Cluster). Keys, for prefix {@code p}:
 *
 * <pre>
 * p:t:&lt;id&gt;                 hash: the task (field {@code result}: the handler's result, if written)
 * p:q:&lt;queue&gt;:pending      list: ready ids, oldest at the right (LPUSH in, RPOP out)
 * p:q:&lt;queue&gt;:active       zset: running ids by lease expiry
 * p:q:&lt;queue&gt;:scheduled    zset: by process-at time
 * p:q:&lt;queue&gt;:retry        zset: by next attempt time
 * p:q:&lt;queue&gt;:archived     zset: by archive time
 * p:q:&lt;queue&gt;:completed    zset: by expiry (completion + retention)
 * p:queues, p:paused         sets of queue names
 * p:u:&lt;unique key&gt;         string: task id holding the unique lock (PX = unique TTL)
 * p:sched:&lt;entry id&gt;       string: last tick accepted for a scheduler entry
 * p:stats:&lt;queue&gt;:&lt;day&gt;  hash: processed, failed
 * p:servers, p:server:&lt;id&gt;  zset of server ids by report expiry; string: JSON report
 * p:wake:&lt;queue&gt;          pub/sub channel: announcements of new tasks ("r&lt;n&gt;" ready, "s&lt;millis&gt;" scheduled)
 * </pre>
 *
 * <p>The scripts that make tasks pending or schedule them {@code PUBLISH} on the queue's wake channel
 * (see {@link io.courier.tasks.spi.ArrivalListeners} for the messages), in the same script, so the
 * announcement goes out with the change.
 */
final class RedisScripts {

    private RedisScripts() {
    }

    /** ARGV: p, id, queue, state, process_at, unique key or '', unique ttl ms, schedule id or '', tick, field/value pairs... */
    static final String ENQUEUE = """
            local p, id, q = ARGV[1], ARGV[2], ARGV[3]
            local tkey = p .. ':t:' .. id
            if redis.call('EXISTS', tkey) == 1 then return -1 end
            local sched = ARGV[8]
            if sched ~= '' then
              local last = redis.call('GET', p .. ':sched:' .. sched)
              if last and tonumber(last) >= tonumber(ARGV[9]) then return -2 end
            end
            local ukey = ARGV[6]
            if ukey ~= '' then
              if not redis.call('SET', p .. ':u:' .. ukey, id, 'NX', 'PX', ARGV[7]) then return -3 end
            end
            if sched ~= '' then redis.call('SET', p .. ':sched:' .. sched, ARGV[9]) end
            local fields = {}
            for i = 10, #ARGV do fields[#fields + 1] = ARGV[i] end
            redis.call('HSET', tkey, unpack(fields))
            redis.call('SADD', p .. ':queues', q)
            if ARGV[4] == 'pending' then
              redis.call('LPUSH', p .. ':q:' .. q .. ':pending', id)
              redis.call('PUBLISH', p .. ':wake:' .. q, 'r1')
            else
              redis.call('ZADD', p .. ':q:' .. q .. ':scheduled', ARGV[5], id)
              redis.call('PUBLISH', p .. ':wake:' .. q, 's' .. ARGV[5])
            end
            return 1
            """;

    /** ARGV: p, queue, max, now, lease expiry, token, owner. Returns a list of HGETALL arrays. */
    static final String CLAIM = """
            local p, q = ARGV[1], ARGV[2]
            if redis.call('SISMEMBER', p .. ':paused', q) == 1 then return {} end
            local out = {}
            local pend = p .. ':q:' .. q .. ':pending'
            local act = p .. ':q:' .. q .. ':active'
            for i = 1, tonumber(ARGV[3]) do
              local id = redis.call('RPOP', pend)
              if not id then break end
              local tkey = p .. ':t:' .. id
              if redis.call('EXISTS', tkey) == 1 then
                redis.call('HSET', tkey, 'state', 'active', 'lease_token', ARGV[6], 'lease_owner', ARGV[7],
                  'lease_expires_at', ARGV[5], 'started_at', ARGV[4])
                redis.call('ZADD', act, ARGV[5], id)
                out[#out + 1] = redis.call('HGETALL', tkey)
              end
            end
            return out
            """;

    /** ARGV: p, expires at, then id, token pairs. Returns 1 (renewed) or 0 (lost) per pair. */
    static final String RENEW = """
            local p = ARGV[1]
            local out = {}
            for i = 3, #ARGV, 2 do
              local id = ARGV[i]
              local tkey = p .. ':t:' .. id
              local h = redis.call('HMGET', tkey, 'state', 'lease_token', 'queue')
              if h[1] == 'active' and h[2] == ARGV[i + 1] then
                redis.call('HSET', tkey, 'lease_expires_at', ARGV[2])
                redis.call('ZADD', p .. ':q:' .. h[3] .. ':active', ARGV[2], id)
                out[#out + 1] = 1
              else
                out[#out + 1] = 0
              end
            end
            return out
            """;

    private static final String CHECK_LEASE = """
            local p, id = ARGV[1], ARGV[2]
            local tkey = p .. ':t:' .. id
            local h = redis.call('HMGET', tkey, 'state', 'lease_token', 'queue', 'unique_key', 'retention_ms')
            if h[1] ~= 'active' or h[2] ~= ARGV[3] then return 0 end
            local q = h[3]
            redis.call('ZREM', p .. ':q:' .. q .. ':active', id)
            """;

    /** ARGV: p, id, token, now. */
    static final String COMPLETE = CHECK_LEASE + """
            if h[4] and h[4] ~= '' then
              local ukey = p .. ':u:' .. h[4]
              if redis.call('GET', ukey) == id then redis.call('DEL', ukey) end
            end
            local ret = tonumber(h[5] or '0')
            if ret > 0 then
              local exp = string.format('%d', tonumber(ARGV[4]) + ret)
              redis.call('HSET', tkey, 'state', 'completed', 'completed_at', ARGV[4], 'expires_at', exp)
              redis.call('HDEL', tkey, 'lease_token', 'lease_owner', 'lease_expires_at')
              redis.call('ZADD', p .. ':q:' .. q .. ':completed', exp, id)
            else
              redis.call('DEL', tkey)
            end
            return 1
            """;

    /** ARGV: p, now, then id/token pairs. Returns 1 (completed) or 0 (stale lease) per pair, as COMPLETE does for one. */
    static final String COMPLETE_ALL = """
            local p, now = ARGV[1], ARGV[2]
            local out = {}
            for i = 3, #ARGV, 2 do
              local id = ARGV[i]
              local tkey = p .. ':t:' .. id
              local h = redis.call('HMGET', tkey, 'state', 'lease_token', 'queue', 'unique_key', 'retention_ms')
              if h[1] ~= 'active' or h[2] ~= ARGV[i + 1] then
                out[#out + 1] = 0
              else
                local q = h[3]
                redis.call('ZREM', p .. ':q:' .. q .. ':active', id)
                if h[4] and h[4] ~= '' then
                  local ukey = p .. ':u:' .. h[4]
                  if redis.call('GET', ukey) == id then redis.call('DEL', ukey) end
                end
                local ret = tonumber(h[5] or '0')
                if ret > 0 then
                  local exp = string.format('%d', tonumber(now) + ret)
                  redis.call('HSET', tkey, 'state', 'completed', 'completed_at', now, 'expires_at', exp)
                  redis.call('HDEL', tkey, 'lease_token', 'lease_owner', 'lease_expires_at')
                  redis.call('ZADD', p .. ':q:' .. q .. ':completed', exp, id)
                else
                  redis.call('DEL', tkey)
                end
                out[#out + 1] = 1
              end
            end
            return out
            """;

    /** ARGV: p, id, token, now, process at, error, count retry (1/0). */
    static final String RETRY = CHECK_LEASE + """
            redis.call('HSET', tkey, 'state', 'retry', 'process_at', ARGV[5], 'last_error', ARGV[6], 'last_failed_at', ARGV[4])
            redis.call('HDEL', tkey, 'lease_token', 'lease_owner', 'lease_expires_at', 'started_at')
            if ARGV[7] == '1' then redis.call('HINCRBY', tkey, 'retried', 1) end
            redis.call('ZADD', p .. ':q:' .. q .. ':retry', ARGV[5], id)
            return 1
            """;

    /** ARGV: p, id, token, now, error. */
    static final String ARCHIVE = CHECK_LEASE + """
            redis.call('HSET', tkey, 'state', 'archived', 'process_at', ARGV[4], 'last_error', ARGV[5], 'last_failed_at', ARGV[4])
            redis.call('HDEL', tkey, 'lease_token', 'lease_owner', 'lease_expires_at', 'started_at')
            redis.call('ZADD', p .. ':q:' .. q .. ':archived', ARGV[4], id)
            return 1
            """;

    /** ARGV: p, id, token, result. Stores a handler's result with an active task; 0 when the lease is stale. */
    static final String WRITE_RESULT = """
            local tkey = ARGV[1] .. ':t:' .. ARGV[2]
            local h = redis.call('HMGET', tkey, 'state', 'lease_token')
            if h[1] ~= 'active' or h[2] ~= ARGV[3] then return 0 end
            redis.call('HSET', tkey, 'result', ARGV[4])
            return 1
            """;

    /** ARGV: p, id, token. Puts the task back at the head of its pending list. */
    static final String REQUEUE = CHECK_LEASE + """
            redis.call('HSET', tkey, 'state', 'pending')
            redis.call('HDEL', tkey, 'lease_token', 'lease_owner', 'lease_expires_at', 'started_at')
            redis.call('RPUSH', p .. ':q:' .. q .. ':pending', id)
            redis.call('PUBLISH', p .. ':wake:' .. q, 'r1')
            return 1
            """;

    /** ARGV: p, now, queues... */
    static final String FORWARD = """
            local p, n = ARGV[1], 0
            for i = 3, #ARGV do
              local q, m = ARGV[i], 0
              for _, z in ipairs({'scheduled', 'retry'}) do
                local zkey = p .. ':q:' .. q .. ':' .. z
                local ids = redis.call('ZRANGEBYSCORE', zkey, '-inf', ARGV[2], 'LIMIT', 0, 1000)
                for _, id in ipairs(ids) do
                  redis.call('ZREM', zkey, id)
                  if redis.call('EXISTS', p .. ':t:' .. id) == 1 then
                    redis.call('HSET', p .. ':t:' .. id, 'state', 'pending')
                    redis.call('LPUSH', p .. ':q:' .. q .. ':pending', id)
                    m = m + 1
                  end
                end
              end
              if m > 0 then redis.call('PUBLISH', p .. ':wake:' .. q, 'r' .. m) end
              n = n + m
            end
            return n
            """;

    /** ARGV: p, now, error, queues... */
    static final String RECOVER = """
            local p, now, n = ARGV[1], ARGV[2], 0
            for i = 4, #ARGV do
              local q = ARGV[i]
              local akey = p .. ':q:' .. q .. ':active'
              local ids = redis.call('ZRANGEBYSCORE', akey, '-inf', '(' .. now, 'LIMIT', 0, 1000)
              for _, id in ipairs(ids) do
                redis.call('ZREM', akey, id)
                local tkey = p .. ':t:' .. id
                local h = redis.call('HMGET', tkey, 'retried', 'max_retry', 'state')
                if h[3] == 'active' then
                  local r, m = tonumber(h[1]), tonumber(h[2])
                  redis.call('HDEL', tkey, 'lease_token', 'lease_owner', 'lease_expires_at', 'started_at')
                  redis.call('HSET', tkey, 'last_error', ARGV[3], 'last_failed_at', now, 'process_at', now)
                  if r >= m then
                    redis.call('HSET', tkey, 'state', 'archived')
                    redis.call('ZADD', p .. ':q:' .. q .. ':archived', now, id)
                  else
                    redis.call('HSET', tkey, 'state', 'retry', 'retried', r + 1)
                    redis.call('ZADD', p .. ':q:' .. q .. ':retry', now, id)
                  end
                  n = n + 1
                end
              end
            end
            return n
            """;

    /** ARGV: p, now. Deletes expired completed tasks and server reports. */
    static final String CLEANUP = """
            local p, now, n = ARGV[1], ARGV[2], 0
            for _, q in ipairs(redis.call('SMEMBERS', p .. ':queues')) do
              local ckey = p .. ':q:' .. q .. ':completed'
              local ids = redis.call('ZRANGEBYSCORE', ckey, '-inf', now, 'LIMIT', 0, 1000)
              for _, id in ipairs(ids) do
                redis.call('ZREM', ckey, id)
                redis.call('DEL', p .. ':t:' .. id)
                n = n + 1
              end
            end
            redis.call('ZREMRANGEBYSCORE', p .. ':servers', '-inf', now)
            return n
            """;

    /** ARGV: p, queue, day, processed, failed, ttl seconds. */
    static final String STATS = """
            local key = ARGV[1] .. ':stats:' .. ARGV[2] .. ':' .. ARGV[3]
            redis.call('HINCRBY', key, 'processed', ARGV[4])
            redis.call('HINCRBY', key, 'failed', ARGV[5])
            redis.call('EXPIRE', key, ARGV[6])
            redis.call('SADD', ARGV[1] .. ':queues', ARGV[2])
            return 1
            """;

    /** ARGV: p, server id, json, expires at, ttl ms. */
    static final String HEARTBEAT = """
            redis.call('SET', ARGV[1] .. ':server:' .. ARGV[2], ARGV[3], 'PX', ARGV[5])
            redis.call('ZADD', ARGV[1] .. ':servers', ARGV[4], ARGV[2])
            return 1
            """;

    /** ARGV: p, queue, day. Returns pending, active, scheduled, retry, archived, completed, paused, processed, failed. */
    static final String QUEUE_INFO = """
            local p, q = ARGV[1], ARGV[2]
            local k = p .. ':q:' .. q .. ':'
            local s = redis.call('HMGET', p .. ':stats:' .. q .. ':' .. ARGV[3], 'processed', 'failed')
            return {redis.call('LLEN', k .. 'pending'), redis.call('ZCARD', k .. 'active'),
              redis.call('ZCARD', k .. 'scheduled'), redis.call('ZCARD', k .. 'retry'),
              redis.call('ZCARD', k .. 'archived'), redis.call('ZCARD', k .. 'completed'),
              redis.call('SISMEMBER', p .. ':paused', q), tonumber(s[1] or '0'), tonumber(s[2] or '0')}
            """;

    /** ARGV: p, queue, days... Returns processed, failed per day (0 for a day without counters): one round trip. */
    static final String HISTORY = """
            local out = {}
            for i = 3, #ARGV do
              local s = redis.call('HMGET', ARGV[1] .. ':stats:' .. ARGV[2] .. ':' .. ARGV[i], 'processed', 'failed')
              out[#out + 1] = tonumber(s[1] or '0')
              out[#out + 1] = tonumber(s[2] or '0')
            end
            return out
            """;

    /** ARGV: p, queue, state, offset, limit. Returns a list of HGETALL arrays, oldest first. */
    static final String LIST = """
            local p, q, st = ARGV[1], ARGV[2], ARGV[3]
            local off, lim = tonumber(ARGV[4]), tonumber(ARGV[5])
            local key = p .. ':q:' .. q .. ':' .. st
            local ids
            if st == 'pending' then
              ids = redis.call('LRANGE', key, -(off + lim), -(off + 1))
              local rev = {}
              for i = #ids, 1, -1 do rev[#rev + 1] = ids[i] end
              ids = rev
            else
              ids = redis.call('ZRANGE', key, off, off + lim - 1)
            end
            local out = {}
            for _, id in ipairs(ids) do
              local h = redis.call('HGETALL', p .. ':t:' .. id)
              if #h > 0 then out[#out + 1] = h end
            end
            return out
            """;

    private static final String LOCATE = """
            local p, id = ARGV[1], ARGV[2]
            local tkey = p .. ':t:' .. id
            local h = redis.call('HMGET', tkey, 'state', 'queue', 'unique_key')
            if not h[1] then return '' end
            local st, q = h[1], h[2]
            local k = p .. ':q:' .. q .. ':'
            local function unlink()
              if st == 'pending' then redis.call('LREM', k .. 'pending', 0, id) else redis.call('ZREM', k .. st, id) end
            end
            """;

    /** ARGV: p, id. Returns the previous state ('' if missing); deletes unless active. */
    static final String DELETE = LOCATE + """
            if st == 'active' then return st end
            unlink()
            if h[3] and h[3] ~= '' then
              local ukey = p .. ':u:' .. h[3]
              if redis.call('GET', ukey) == id then redis.call('DEL', ukey) end
            end
            redis.call('DEL', tkey)
            return st
            """;

    /** ARGV: p, id, now. Scheduled, retry or archived to pending. */
    static final String RUN = LOCATE + """
            if st == 'scheduled' or st == 'retry' or st == 'archived' then
              unlink()
              redis.call('HSET', tkey, 'state', 'pending', 'process_at', ARGV[3])
              redis.call('LPUSH', k .. 'pending', id)
              redis.call('PUBLISH', p .. ':wake:' .. q, 'r1')
            end
            return st
            """;

    /** ARGV: p, id, now. Pending, scheduled or retry to archived. */
    static final String ARCHIVE_TASK = LOCATE + """
            if st == 'pending' or st == 'scheduled' or st == 'retry' then
              unlink()
              redis.call('HSET', tkey, 'state', 'archived', 'process_at', ARGV[3])
              redis.call('ZADD', k .. 'archived', ARGV[3], id)
            end
            return st
            """;

    /** ARGV: p, queue, now, mode ('run' or 'delete'). Handles up to 1000 archived tasks per call. */
    static final String BULK_ARCHIVED = """
            local p, q, now = ARGV[1], ARGV[2], ARGV[3]
            local k = p .. ':q:' .. q .. ':'
            local ids = redis.call('ZRANGE', k .. 'archived', 0, 999)
            for _, id in ipairs(ids) do
              redis.call('ZREM', k .. 'archived', id)
              local tkey = p .. ':t:' .. id
              if ARGV[4] == 'run' then
                redis.call('HSET', tkey, 'state', 'pending', 'process_at', now)
                redis.call('LPUSH', k .. 'pending', id)
              else
                local u = redis.call('HGET', tkey, 'unique_key')
                if u and u ~= '' and redis.call('GET', p .. ':u:' .. u) == id then redis.call('DEL', p .. ':u:' .. u) end
                redis.call('DEL', tkey)
              end
            end
            if ARGV[4] == 'run' and #ids > 0 then redis.call('PUBLISH', p .. ':wake:' .. q, 'r' .. #ids) end
            return #ids
            """;

    /** ARGV: p, queues... Returns the earliest score of the queues' scheduled and retry sets, or -1. */
    static final String NEXT_DUE = """
            local p, due = ARGV[1], -1
            for i = 2, #ARGV do
              for _, z in ipairs({'scheduled', 'retry'}) do
                local first = redis.call('ZRANGE', p .. ':q:' .. ARGV[i] .. ':' .. z, 0, 0, 'WITHSCORES')
                if first[2] then
                  local score = tonumber(first[2])
                  if due < 0 or score < due then due = score end
                end
              end
            end
            return due
            """;
}
