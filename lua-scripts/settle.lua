-- SPDX-License-Identifier: Apache-2.0
-- settle -- records what one admitted request used, for every scope it belongs to at once:
-- its tokens into the token buckets, its cost into the spend of the budget period, and the
-- release of its parallel slot. Runs once per admitted request, after the response ended,
-- failed or was abandoned. admit.lua describes the counters; docs/limits.md the rules.
--
-- KEYS, four per scope i (1-based): the token buckets, the parallel slots, the spend of the
--   current budget period and the soft-budget mark of that period; then the spend stream.
-- ARGV[1]  now_ms      the caller's clock, milliseconds since the Unix epoch
-- ARGV[2]  request_id  the member admit.lua added to the parallel sets
-- ARGV[3]  cost        the request's cost in USD, a decimal string >= 0
-- ARGV[4]  n           the number of scopes
-- ARGV[5]  event       the request's spend event (common/spend_event.h); "" appends none
-- ARGV[6]  max_len     the stream's approximate length cap (XADD MAXLEN ~)
-- then five per scope: tokens to count (-1: the scope has no token limit), release (1 when
--   the request holds a slot of this scope), spend (1 to add the cost to this scope),
--   soft_budget (decimal string, -1 when unset) and spend_ttl_s (how long the period's spend
--   is kept, 0 for ever).
--
-- Returns one integer per scope, 1 when this request took the scope's spend to its soft budget
-- first in this period (the caller logs that once), else 0; then the stream's length after
-- the append, or -1 when no event was given.

local STEP = 1000
local BUCKETS = 60

local now = tonumber(ARGV[1])
local request_id = ARGV[2]
local cost = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local event = ARGV[5]
local max_len = tonumber(ARGV[6])

local function whole(v)
    return v ~= nil and v == math.floor(v)
end

if not (whole(now) and now >= 0 and cost ~= nil and cost >= 0 and whole(n) and n >= 0 and
        whole(max_len) and max_len >= 1 and #KEYS == 4 * n + 1 and #ARGV == 6 + 5 * n) then
    return redis.error_reply('settle: bad arguments')
end

local current = math.floor(now / STEP)
local oldest = current - BUCKETS + 1
local crossed = {}

-- Sets `sum` and `low` of token counter `key` from its buckets, dropping those that left the
-- window, for a counter without them. Returns the new `low`, nil when the counter does not
-- exist. admit.lua's rebuild() does the same.
local function rebuild(key)
    local flat = redis.call('HGETALL', key)
    if #flat == 0 then
        return nil
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
    return oldest
end

-- Counts `units` in the current second's bucket of counter `key`, never below its `low`, and
-- keeps `sum` in step: admit.lua's add().
local function add(key, units)
    local low = tonumber(redis.call('HGET', key, 'low'))
    if low == nil then
        low = rebuild(key)
    end
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
    if count == units then
        redis.call('PEXPIRE', key, BUCKETS * STEP + STEP)
    end
end

for i = 1, n do
    local a = 6 + (i - 1) * 5
    local k = (i - 1) * 4
    local tokens = tonumber(ARGV[a + 1])
    local release = ARGV[a + 2] == '1'
    local add_spend = ARGV[a + 3] == '1'
    local soft = tonumber(ARGV[a + 4])
    local ttl = tonumber(ARGV[a + 5])
    if not (whole(tokens) and soft ~= nil and whole(ttl) and ttl >= 0) then
        return redis.error_reply('settle: bad values for scope ' .. i)
    end

    if tokens > 0 then
        add(KEYS[k + 1], tokens)
    end
    if release then
        redis.call('ZREM', KEYS[k + 2], request_id)
    end

    crossed[i] = 0
    if add_spend and cost > 0 then
        local spend = tonumber(redis.call('INCRBYFLOAT', KEYS[k + 3], ARGV[3]))
        -- The TTL ends a day after the period on every call, so only the call that created
        -- the key sets it: the one whose spend is the cost. The margin covers INCRBYFLOAT's
        -- rounding. A key that existed and falls within it only gets the same TTL again.
        if ttl > 0 and spend <= cost * (1 + 1e-9) then
            redis.call('EXPIRE', KEYS[k + 3], ttl)
        end
        if soft >= 0 and spend >= soft then
            local opts = ttl > 0 and {'EX', ttl} or {}
            if redis.call('SET', KEYS[k + 4], '1', 'NX', unpack(opts)) then
                crossed[i] = 1
            end
        end
    end
end
if event ~= nil and event ~= '' then
    redis.call('XADD', KEYS[4 * n + 1], 'MAXLEN', '~', max_len, '*', 'e', event)
    crossed[n + 1] = redis.call('XLEN', KEYS[4 * n + 1])
else
    crossed[n + 1] = -1
end
return crossed
