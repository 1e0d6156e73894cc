-- SPDX-License-Identifier: Apache-2.0
-- admit -- decides whether one model request may reach the provider, for every scope it
-- belongs to at once (key, user, team, team member, organization, end user, model per key,
-- model per team, the whole gateway), and counts it when it may. docs/limits.md has the rules.
--
-- Request and token counters are hashes of one-second buckets: field = floor(now_ms / 1000),
-- value = units counted in that second. A unit counts while its second is one of the last 60,
-- so the window slides in one-second steps and any 60 whole seconds hold at most `limit`.
-- Two more fields keep the window's total without reading every bucket: `sum`, the units of
-- the buckets the hash holds, and `low`, the oldest second whose bucket may still be there.
-- Each call subtracts and drops only the buckets that left the window since `low`.
-- Parallel slots are a sorted set of request ids scored by the time the slot expires, so a
-- slot of a node that died is dropped once its expiry passes. Spend is one float per period.
--
-- KEYS, four per scope i (1-based), in this order: the request buckets, the token buckets,
--   the parallel slots and the spend of the current budget period.
-- ARGV[1]  now_ms      the caller's clock, milliseconds since the Unix epoch
-- ARGV[2]  request_id  the request's id, the member of every parallel set it joins
-- ARGV[3]  slot_ms     how long a parallel slot lives unless released
-- ARGV[4]  n           the number of scopes
-- then seven per scope: rpm_limit, tpm_limit, max_parallel_requests (whole numbers, -1 when
--   unset), max_budget and soft_budget (decimal strings, -1 when unset), seed and seed_ttl_s:
--   the period's spend as reconciled in PostgreSQL (-1 when unknown) and how long to keep it.
--   A spend key that is missing while the seed is above 0 was lost with Redis's data, so it is
--   set from the seed before it is read.
--
-- Budgets of every scope are checked first, then each scope's limits in order. Nothing is
-- counted unless every check passes.
--
-- Returns, when rejected: {0, scope, what, limit, remaining, retry_ms}, where `what` is
--   "budget", "requests", "tokens" or "max_parallel_requests". For a budget, `limit` is the
--   max_budget and `remaining` the spend, both as strings; retry_ms is 0. For a limit,
--   retry_ms is the wait after which the request would pass if nothing else came, -1 never.
-- Returns, when admitted: {1, then four per scope: requests left, tokens left, parallel slots
--   left (-1 for a limit that is unset) and the period's spend as a string}.

local STEP = 1000
local BUCKETS = 60

local now = tonumber(ARGV[1])
local request_id = ARGV[2]
local slot_ms = tonumber(ARGV[3])
local n = tonumber(ARGV[4])

local function whole(v)
    return v ~= nil and v == math.floor(v)
end

if not (whole(now) and now >= 0 and whole(slot_ms) and slot_ms >= 1 and whole(n) and n >= 0 and
        #KEYS == 4 * n and #ARGV == 4 + 7 * n) then
    return redis.error_reply('admit: bad arguments')
end

local current = math.floor(now / STEP)
local oldest = current - BUCKETS + 1

-- Drops the buckets of counter `key` that left the window and sets `sum` and `low` from the
-- rest. Used for a counter without those fields (a new one, or one written by a version that
-- did not keep them) and for one whose `low` is more than a window behind. Returns the total
-- and the new `low`, or 0 and nil when the counter does not exist.
local function rebuild(key)
    local flat = redis.call('HGETALL', key)
    if #flat == 0 then
        return 0, nil
    end
    local total = 0
    local stale = {}
    for i = 1, #flat, 2 do
        local second = tonumber(flat[i])
        if second ~= nil and second >= oldest then
            total = total + (tonumber(flat[i + 1]) or 0)
        elseif flat[i] ~= 'sum' and flat[i] ~= 'low' then
            stale[#stale + 1] = flat[i]
        end
    end
    if #stale > 0 then
        redis.call('HDEL', key, unpack(stale))
    end
    redis.call('HSET', key, 'sum', total, 'low', oldest)
    return total, oldest
end

-- Returns the units counted in the window of counter `key` and its `low` (nil when the
-- counter does not exist), first subtracting and dropping the buckets that left the window.
local function window(key)
    local marks = redis.call('HMGET', key, 'sum', 'low')
    local total = tonumber(marks[1])
    local low = tonumber(marks[2])
    if total == nil or low == nil or oldest - low > BUCKETS then
        return rebuild(key)
    end
    if low >= oldest then
        return total, low
    end
    local seconds = {}
    for second = low, oldest - 1 do
        seconds[#seconds + 1] = second
    end
    local counts = redis.call('HMGET', key, unpack(seconds))
    local expired = {}
    for i = 1, #seconds do
        if counts[i] then
            total = total - (tonumber(counts[i]) or 0)
            expired[#expired + 1] = seconds[i]
        end
    end
    if #expired > 0 then
        redis.call('HDEL', key, unpack(expired))
    end
    redis.call('HSET', key, 'sum', total, 'low', oldest)
    return total, oldest
end

-- Counts `units` in the current second's bucket of counter `key` whose `low` is `low` (nil
-- for a new counter). A caller whose clock is behind `low` counts in the bucket of `low`,
-- because a bucket below `low` would never be subtracted. settle.lua has the same function.
local function add(key, low, units)
    local second = current
    if low ~= nil and low > second then
        second = low
    end
    local count = redis.call('HINCRBY', key, second, units)
    if low == nil then
        redis.call('HSET', key, 'sum', units, 'low', oldest)
    else
        redis.call('HINCRBY', key, 'sum', units)
    end
    -- The counter outlives its newest bucket's window by a second. A bucket that existed
    -- before this call set that already, so only a new bucket renews it.
    if count == units then
        redis.call('PEXPIRE', key, BUCKETS * STEP + STEP)
    end
end

-- Returns the wait until `units` of the counted units of `key` leave the window. Only a
-- rejection needs it, so only a rejection reads and sorts every bucket.
local function wait_for(key, units)
    local flat = redis.call('HGETALL', key)
    local live = {}
    for i = 1, #flat, 2 do
        local second = tonumber(flat[i])
        if second ~= nil and second >= oldest then
            live[#live + 1] = {second, tonumber(flat[i + 1]) or 0}
        end
    end
    local freed = 0
    table.sort(live, function(a, b) return a[1] < b[1] end)
    for _, bucket in ipairs(live) do
        freed = freed + bucket[2]
        if freed >= units then
            return math.max(1, (bucket[1] + BUCKETS) * STEP - now)
        end
    end
    return -1
end

local scopes = {}
for i = 1, n do
    local a = 4 + (i - 1) * 7
    local s = {
        req = KEYS[(i - 1) * 4 + 1], tok = KEYS[(i - 1) * 4 + 2],
        par = KEYS[(i - 1) * 4 + 3], spend = KEYS[(i - 1) * 4 + 4],
        rpm = tonumber(ARGV[a + 1]), tpm = tonumber(ARGV[a + 2]), par_limit = tonumber(ARGV[a + 3]),
        max_budget = tonumber(ARGV[a + 4]), soft_budget = tonumber(ARGV[a + 5]),
        seed = tonumber(ARGV[a + 6]), seed_ttl = tonumber(ARGV[a + 7]), seed_text = ARGV[a + 6],
    }
    if not (whole(s.rpm) and whole(s.tpm) and whole(s.par_limit) and s.max_budget ~= nil and
            s.soft_budget ~= nil and s.seed ~= nil and whole(s.seed_ttl) and s.seed_ttl >= 0) then
        return redis.error_reply('admit: bad limits for scope ' .. i)
    end
    scopes[i] = s
end

-- Budgets first, as LiteLLM checks them before rate limits.
for i, s in ipairs(scopes) do
    if s.max_budget >= 0 or s.soft_budget >= 0 then
        s.spend_text = redis.call('GET', s.spend)
        if not s.spend_text and s.seed > 0 then
            if s.seed_ttl > 0 then
                redis.call('SET', s.spend, s.seed_text, 'EX', s.seed_ttl, 'NX')
            else
                redis.call('SET', s.spend, s.seed_text, 'NX')
            end
            s.spend_text = s.seed_text
        end
        s.spend_text = s.spend_text or '0'
        local spend = tonumber(s.spend_text) or 0
        if s.max_budget >= 0 and spend >= s.max_budget then
            return {0, i, 'budget', ARGV[4 + (i - 1) * 7 + 4], s.spend_text, 0}
        end
    else
        s.spend_text = '0'
    end
end

for i, s in ipairs(scopes) do
    if s.rpm >= 0 then
        local used, low = window(s.req)
        if used + 1 > s.rpm then
            local retry = s.rpm == 0 and -1 or wait_for(s.req, used + 1 - s.rpm)
            return {0, i, 'requests', s.rpm, math.max(0, s.rpm - used), retry}
        end
        s.req_left = s.rpm - used - 1
        s.req_low = low
    end
    if s.tpm >= 0 then
        local used = window(s.tok)
        if used >= s.tpm then
            local retry = s.tpm == 0 and -1 or wait_for(s.tok, used - s.tpm + 1)
            return {0, i, 'tokens', s.tpm, math.max(0, s.tpm - used), retry}
        end
        s.tok_left = s.tpm - used
    end
    if s.par_limit >= 0 then
        redis.call('ZREMRANGEBYSCORE', s.par, '-inf', now)
        local used = redis.call('ZCARD', s.par)
        if used + 1 > s.par_limit then
            return {0, i, 'max_parallel_requests', s.par_limit, math.max(0, s.par_limit - used),
                    1000}
        end
        s.par_left = s.par_limit - used - 1
    end
end

local reply = {1}
for _, s in ipairs(scopes) do
    if s.rpm >= 0 then
        add(s.req, s.req_low, 1)
    end
    if s.par_limit >= 0 then
        redis.call('ZADD', s.par, now + slot_ms, request_id)
        redis.call('PEXPIRE', s.par, slot_ms)
    end
    reply[#reply + 1] = s.req_left or -1
    reply[#reply + 1] = s.tok_left or -1
    reply[#reply + 1] = s.par_left or -1
    reply[#reply + 1] = s.spend_text
end
return reply
