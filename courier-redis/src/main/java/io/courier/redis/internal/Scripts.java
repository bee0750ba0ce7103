package io.courier.redis.internal;

/**
 * The Lua scripts that make Courier's multi-key steps atomic. Each runs whole or not at all with
 * respect to other clients; each checks that the entry is still pending before it writes, so two
 * consumers that both think they hold an entry never both settle it, and writes the new copy before
 * it acknowledges the old one, so an error part-way (out of memory) never loses the message.
 */
final class Scripts {

    private Scripts() {
    }

    /** XADD with optional trimming; fields is a Lua array of name, value, ... */
    private static final String XADD = """
            local function xadd(key, mode, op, threshold, fields)
              if mode == 'MAXLEN' or mode == 'MINID' then
                return redis.call('XADD', key, mode, op, threshold, '*', unpack(fields))
              end
              return redis.call('XADD', key, '*', unpack(fields))
            end
            """;

    /** Decodes a sorted-set member "<len>:<bytes>..." into its parts, skipping the leading nonce. */
    private static final String DECODE = """
            local function decode(s)
              local parts = {}
              local pos = 1
              local n = #s
              while pos <= n do
                local colon = string.find(s, ':', pos, true)
                if not colon then return nil end
                local len = tonumber(string.sub(s, pos, colon - 1))
                if not len or colon + len > n then return nil end
                parts[#parts + 1] = string.sub(s, colon + 1, colon + len)
                pos = colon + len + 1
              end
              if #parts < 3 or (#parts - 1) % 2 ~= 0 then return nil end
              table.remove(parts, 1)
              return parts
            end
            """;

    /**
     * Moves due members of a sorted set onto a stream.
     * KEYS: zset, stream. ARGV: now (ms), limit, trim mode, trim op, trim threshold.
     * Returns {moved, malformed dropped}.
     */
    static final LuaScript MOVE_DUE = new LuaScript("move-due", XADD + DECODE + """
            local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
            local moved, bad = 0, 0
            for _, member in ipairs(due) do
              local fields = decode(member)
              if fields then
                xadd(KEYS[2], ARGV[3], ARGV[4], ARGV[5], fields)
                moved = moved + 1
              else
                bad = bad + 1
              end
              redis.call('ZREM', KEYS[1], member)
            end
            return {moved, bad}
            """);

    /**
     * Schedules a retry of a pending entry for its group and acknowledges the entry.
     * KEYS: source stream, retry zset. ARGV: group, entry id, delete source entry ('1'/'0'), due (ms), member.
     * Returns 1, or 0 when the entry was no longer pending (someone else settled it).
     */
    static final LuaScript RESCHEDULE = new LuaScript("reschedule", """
            local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
            if #pending == 0 then return 0 end
            redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
            redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
            if ARGV[3] == '1' then redis.call('XDEL', KEYS[1], ARGV[2]) end
            return 1
            """);

    /**
     * Copies a pending entry to the dead-letter stream and acknowledges it.
     * KEYS: source stream, dead-letter stream. ARGV: group, entry id, delete source ('1'/'0'),
     * trim mode, trim op, trim threshold, then the dead-letter entry's fields.
     * Returns 1, or 0 when the entry was no longer pending.
     */
    static final LuaScript DEAD_LETTER = new LuaScript("dead-letter", XADD + """
            local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
            if #pending == 0 then return 0 end
            local fields = {}
            for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
            xadd(KEYS[2], ARGV[4], ARGV[5], ARGV[6], fields)
            redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
            if ARGV[3] == '1' then redis.call('XDEL', KEYS[1], ARGV[2]) end
            return 1
            """);

    /**
     * Removes a group's consumers that own no pending entry and were idle longer than a threshold.
     * Atomic, so a consumer cannot receive an entry between the check and its removal.
     * KEYS: stream. ARGV: group, min idle (ms), name to keep. Returns the number removed.
     */
    static final LuaScript REMOVE_IDLE_CONSUMERS = new LuaScript("remove-idle-consumers", """
            local removed = 0
            local consumers = redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
            for _, c in ipairs(consumers) do
              local name, pending, idle
              for i = 1, #c, 2 do
                if c[i] == 'name' then name = c[i + 1]
                elseif c[i] == 'pending' then pending = c[i + 1]
                elseif c[i] == 'idle' then idle = c[i + 1] end
              end
              if name and name ~= ARGV[3] and pending == 0 and idle and idle > tonumber(ARGV[2]) then
                redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
                removed = removed + 1
              end
            end
            return removed
            """);
}
