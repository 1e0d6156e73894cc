-- SPDX-License-Identifier: Apache-2.0
-- window_incr -- sliding-window counter for request and token rate limits (RPM, TPM).
--
-- The window is approximated by two fixed sub-windows of window_ms each: the current one, and
-- the previous one weighted by the part of it that still overlaps the sliding window:
--
--   start    = floor(now_ms / window_ms) * window_ms
--   elapsed  = now_ms - start
--   estimate = previous * (window_ms - elapsed) / window_ms + current
--
-- A request of `cost` units is admitted when estimate + cost <= limit; only an admitted
-- request is counted, so rejected retries do not extend a block. Starting from an empty key,
-- exactly floor(limit / cost) requests are admitted within one sub-window, whatever number of
-- gateways send them. The estimate assumes that the previous sub-window's requests were spread
-- evenly. So when traffic was bursty, the admitted total over a sliding window of window_ms can
-- differ from `limit`. Within one fixed sub-window it never exceeds `limit`.
--
-- KEYS[1]  the counter: a hash with one field per sub-window index, expiring 2 * window_ms
--          after the last admission.
-- ARGV[1]  limit      units allowed per window (integer >= 0)
-- ARGV[2]  window_ms  window length in milliseconds (integer >= 1)
-- ARGV[3]  now_ms     the caller's clock in milliseconds since the Unix epoch (integer >= 0);
--                     every caller of one key must use the same clock source
-- ARGV[4]  cost       units this request uses (integer >= 0); 0 reads without counting
--
-- Returns {allowed, current, ttl_ms, retry_after_ms}:
--   allowed         1 when admitted (and counted), else 0
--   current         the estimate after this call, rounded up
--   ttl_ms          milliseconds until the current sub-window ends (a reset hint for headers)
--   retry_after_ms  0 when admitted; else the wait after which the same cost would be
--                   admitted if no other request came; -1 when cost > limit (never)

local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])

local function is_count(v)
    return v ~= nil and v >= 0 and v == math.floor(v)
end

if not (is_count(limit) and is_count(window) and window >= 1 and is_count(now) and
        is_count(cost)) then
    return redis.error_reply('window_incr: limit, window_ms, now_ms and cost must be ' ..
        'non-negative integers and window_ms at least 1')
end

local index = math.floor(now / window)
local elapsed = now - index * window
local current = tonumber(redis.call('HGET', key, tostring(index)) or '0')
local previous = tonumber(redis.call('HGET', key, tostring(index - 1)) or '0')
local weighted = previous * (window - elapsed) / window + current
local ttl = window - elapsed

if weighted + cost <= limit then
    if cost > 0 then
        redis.call('HINCRBY', key, tostring(index), cost)
        -- Fields older than the previous sub-window no longer count; the key expiry removes
        -- anything older still.
        redis.call('HDEL', key, tostring(index - 2))
        redis.call('PEXPIRE', key, 2 * window)
    end
    return {1, math.ceil(weighted + cost), ttl, 0}
end

local retry
local need = limit - cost
if need < 0 then
    retry = -1
elseif current <= need then
    -- The previous sub-window's weight must shrink: wait within the current sub-window.
    local at = window - (need - current) * window / previous
    retry = math.max(1, math.ceil(at - elapsed))
else
    -- The current sub-window alone is over: wait into the next one, where it is the previous.
    retry = ttl + math.ceil(window * (1 - need / current))
end
return {0, math.ceil(weighted), ttl, retry}
