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
     * Returns {moved, malformed dropped, score of the earliest member left or -1 when none}.
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
            local nextDue = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
            if #nextDue == 0 then return {moved, bad, -1} end
            return {moved, bad, tonumber(nextDue[2])}
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

    // ------------------------------------------------------------------ key ordering
    //
    // With key ordering every entry with a message key is, atomically with its delivery to the group,
    // appended to the group's list of that key (Keys#keyListPrefix) as a tag "m:<id>" (topic stream)
    // or "r:<id>" (the group's retry stream). A consumer hands an entry to its handler only while the
    // entry is the head of its list; settling it removes it from the list in the same script.

    /** Removes {@code tag} from a key list (normally its head); returns the new head or ''. */
    private static final String RELEASE = """
            local function release(list, tag)
              if redis.call('LINDEX', list, 0) == tag then redis.call('LPOP', list) else redis.call('LREM', list, 1, tag) end
              return redis.call('LINDEX', list, 0) or ''
            end
            local function source(tag)
              if string.sub(tag, 1, 1) == 'r' then return KEYS[2] end
              return KEYS[1]
            end
            """;

    /**
     * Reads new entries for a consumer of the group (XREADGROUP without BLOCK: scripts cannot block)
     * and appends each keyed one to its key list. Because the group hands entries out in stream
     * order and the script is atomic, every key list is in stream order.
     * KEYS: stream, retry stream. ARGV: group, consumer, count, key-list prefix.
     * Returns {last id of the stream, last id of the retry stream} when nothing was read (for the
     * caller to block on with XREAD), else {'', '', then per entry: kind ('m'/'r'), id, 1 if it is
     * the head of its key list (or has no key) else 0, fields}.
     */
    static final LuaScript READ_KEYED = new LuaScript("read-keyed", """
            local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], KEYS[2], '>', '>')
            local out = {'', ''}
            if reply then
              for _, s in ipairs(reply) do
                local kind = 'm'
                if s[1] == KEYS[2] then kind = 'r' end
                for _, e in ipairs(s[2]) do
                  local id, fields = e[1], e[2]
                  local head = 1
                  for i = 1, #fields, 2 do
                    if fields[i] == 'key' then
                      if redis.call('RPUSH', ARGV[4] .. fields[i + 1], kind .. ':' .. id) > 1 then head = 0 end
                      break
                    end
                  end
                  out[#out + 1] = kind
                  out[#out + 1] = id
                  out[#out + 1] = head
                  out[#out + 1] = fields
                end
              end
            end
            if #out == 2 then
              for i = 1, 2 do
                local last = redis.call('XREVRANGE', KEYS[i], '+', '-', 'COUNT', 1)
                if #last > 0 then out[i] = last[1][1] else out[i] = '0-0' end
              end
            end
            return out
            """);

    /**
     * Acknowledges keyed entries and removes each from its key list.
     * KEYS: stream, retry stream, then the key list of each entry. ARGV: group, then per entry its tag.
     * Entries of the retry stream are also deleted. Returns the new head of each list ('' if empty).
     */
    static final LuaScript ACK_KEYED = new LuaScript("ack-keyed", RELEASE + """
            local heads = {}
            for i = 3, #KEYS do
              local tag = ARGV[i - 1]
              local s = source(tag)
              local id = string.sub(tag, 3)
              redis.call('XACK', s, ARGV[1], id)
              if s == KEYS[2] then redis.call('XDEL', s, id) end
              heads[#heads + 1] = release(KEYS[i], tag)
            end
            return heads
            """);

    /**
     * {@link #RESCHEDULE} for a keyed entry, which also leaves its key list.
     * KEYS: source stream, retry zset, key list. ARGV: as RESCHEDULE, then the tag.
     * Returns {1 or 0 as RESCHEDULE, new head of the key list or ''}.
     */
    static final LuaScript RESCHEDULE_KEYED = new LuaScript("reschedule-keyed", """
            local done = 0
            local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
            if #pending > 0 then
              redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
              redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
              if ARGV[3] == '1' then redis.call('XDEL', KEYS[1], ARGV[2]) end
              done = 1
            end
            local list, tag = KEYS[3], ARGV[6]
            if redis.call('LINDEX', list, 0) == tag then redis.call('LPOP', list) else redis.call('LREM', list, 1, tag) end
            return {done, redis.call('LINDEX', list, 0) or ''}
            """);

    /**
     * {@link #DEAD_LETTER} for a keyed entry, which also leaves its key list.
     * KEYS: source stream, dead-letter stream, key list. ARGV: group, entry id, delete source,
     * trim mode, trim op, trim threshold, tag, then the dead-letter entry's fields.
     * Returns {1 or 0 as DEAD_LETTER, new head of the key list or ''}.
     */
    static final LuaScript DEAD_LETTER_KEYED = new LuaScript("dead-letter-keyed", XADD + """
            local done = 0
            local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
            if #pending > 0 then
              local fields = {}
              for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
              xadd(KEYS[2], ARGV[4], ARGV[5], ARGV[6], fields)
              redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
              if ARGV[3] == '1' then redis.call('XDEL', KEYS[1], ARGV[2]) end
              done = 1
            end
            local list, tag = KEYS[3], ARGV[7]
            if redis.call('LINDEX', list, 0) == tag then redis.call('LPOP', list) else redis.call('LREM', list, 1, tag) end
            return {done, redis.call('LINDEX', list, 0) or ''}
            """);

    /**
     * Looks at the head of key lists a consumer waits on. Heads no longer pending (settled, or
     * deleted by trimming) are dropped; a head pending longer than the lease under another consumer
     * is claimed (XCLAIM, counting a delivery) so a dead consumer never blocks a key for good.
     * KEYS: stream, retry stream, then the key lists. ARGV: group, consumer, lease (ms).
     * Returns per list {state, tag, delivery count, fields}: state 'none' (empty list), 'mine' (head
     * is this consumer's; no fields), 'claimed' (just claimed by this consumer; with fields) or
     * 'other' (another consumer holds it within its lease).
     */
    static final LuaScript HEADS = new LuaScript("heads", RELEASE + """
            local out = {}
            for i = 3, #KEYS do
              local res = {'none', '', 0, {}}
              while true do
                local tag = redis.call('LINDEX', KEYS[i], 0)
                if not tag then break end
                local s = source(tag)
                local id = string.sub(tag, 3)
                local p = redis.call('XPENDING', s, ARGV[1], id, id, 1)
                local drop = false
                if #p == 0 then
                  drop = true
                elseif p[1][2] == ARGV[2] then
                  if #redis.call('XRANGE', s, id, id) > 0 then
                    res = {'mine', tag, p[1][4], {}}
                    break
                  end
                  redis.call('XACK', s, ARGV[1], id)
                  drop = true
                elseif p[1][3] >= tonumber(ARGV[3]) then
                  local c = redis.call('XCLAIM', s, ARGV[1], ARGV[2], ARGV[3], id)
                  if c[1] and c[1][2] then
                    res = {'claimed', tag, p[1][4] + 1, c[1][2]}
                    break
                  end
                  redis.call('XACK', s, ARGV[1], id)
                  drop = true
                else
                  res = {'other', tag, p[1][4], {}}
                  break
                end
                if drop then redis.call('LPOP', KEYS[i]) end
              end
              out[#out + 1] = res
            end
            return out
            """);

    /**
     * Extends the leases of entries a consumer holds: resets their idle time (XCLAIM JUSTID, which
     * counts no delivery), only if they are still this consumer's. KEYS: stream, retry stream.
     * ARGV: group, consumer, then per entry its tag. Returns per entry 1 (extended) or 0 (no longer
     * pending for this consumer: settled, or claimed by another after its lease expired).
     */
    static final LuaScript EXTEND = new LuaScript("extend", RELEASE + """
            local out = {}
            for i = 3, #ARGV do
              local tag = ARGV[i]
              local s = source(tag)
              local id = string.sub(tag, 3)
              local p = redis.call('XPENDING', s, ARGV[1], id, id, 1)
              if #p == 0 or p[1][2] ~= ARGV[2] then
                out[#out + 1] = 0
              else
                redis.call('XCLAIM', s, ARGV[1], ARGV[2], 0, id, 'JUSTID')
                out[#out + 1] = 1
              end
            end
            return out
            """);

    /**
     * Renews the lease of keyed entries a consumer holds but is not handling (they wait for their
     * turn): resets their idle time (XCLAIM JUSTID, which counts no delivery), only if they are still
     * this consumer's. KEYS: stream, retry stream, then the key list of each entry. ARGV: group,
     * consumer, then per entry its tag. Returns per entry 0 (renewed), 1 (no longer this
     * consumer's) or 2 (renewed, but in no key list: read before key ordering was turned on).
     */
    static final LuaScript RENEW = new LuaScript("renew", RELEASE + """
            local out = {}
            for i = 3, #KEYS do
              local tag = ARGV[i]
              local s = source(tag)
              local id = string.sub(tag, 3)
              local p = redis.call('XPENDING', s, ARGV[1], id, id, 1)
              if #p == 0 or p[1][2] ~= ARGV[2] then
                out[#out + 1] = 1
              else
                redis.call('XCLAIM', s, ARGV[1], ARGV[2], 0, id, 'JUSTID')
                if redis.call('LPOS', KEYS[i], tag) then out[#out + 1] = 0 else out[#out + 1] = 2 end
              end
            end
            return out
            """);
}
