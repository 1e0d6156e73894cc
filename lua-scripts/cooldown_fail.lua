-- SPDX-License-Identifier: Apache-2.0
-- cooldown_fail -- counts a failed call of one deployment and starts its cooldown when needed.
--
-- Failures are counted per deployment and per minute of the caller's clock. When the count
-- of this minute exceeds allowed_fails, the deployment is cooled down until now_ms + cooldown_ms: its cooldown-until key is set with that lifetime,
-- the deployment joins the sorted set of cooldowns (score: until, in ms) that a gateway reads
-- when its subscription starts, and "<until_ms> <id>" is published on the cooldown channel.
-- A deployment already cooling down until a later time is left as it is.
--
-- KEYS[1]  failure counter of this minute, sluice:cooldown:fails:<id>:<minute>
-- KEYS[2]  cooldown-until, sluice:cooldown:until:<id>
-- KEYS[3]  sorted set of cooldowns, sluice:cooldown:all
-- KEYS[4]  channel, sluice:deployments:cooldown (PUBLISHed to, never read)
-- ARGV[1]  deployment id
-- ARGV[2]  allowed_fails  failures per minute allowed before a cooldown (integer >= 0). The
--          gateway decides it per error (gateway/router/cooldown.c): 0 cools the deployment
--          down on this failure, as LiteLLM's default mode does on a 429 in a group of several.
-- ARGV[3]  cooldown_ms    cooldown length in milliseconds (integer >= 1): cooldown_time, or
--          the provider's retry-after when longer
-- ARGV[4]  now_ms         the caller's wall clock in milliseconds since the Unix epoch
--
-- Returns {failures, until_ms}: the count of this minute after this call, and the end of the
-- cooldown in ms (0 when the deployment is not cooling down).

local id = ARGV[1]
local allowed = tonumber(ARGV[2])
local cooldown = tonumber(ARGV[3])
local now = tonumber(ARGV[4])

local function is_count(v)
    return v ~= nil and v >= 0 and v == math.floor(v)
end

if id == nil or id == '' or not (is_count(allowed) and is_count(cooldown) and cooldown >= 1 and
        is_count(now)) then
    return redis.error_reply('cooldown_fail: the id must not be empty, allowed_fails and now_ms ' ..
        'must be non-negative integers and cooldown_ms at least 1')
end

local failures = redis.call('INCR', KEYS[1])
if failures == 1 then
    redis.call('EXPIRE', KEYS[1], 60)
end

local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if failures <= allowed then
    if current > now then
        return {failures, current}
    end
    return {failures, 0}
end

local until_ms = now + cooldown
if current >= until_ms then
    return {failures, current}
end
redis.call('SET', KEYS[2], tostring(until_ms), 'PX', cooldown)
-- Entries that ended are dropped, so the set contains current cooldowns only.
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tostring(now))
redis.call('ZADD', KEYS[3], until_ms, id)
local ttl = redis.call('PTTL', KEYS[3])
if ttl < cooldown then
    redis.call('PEXPIRE', KEYS[3], cooldown)
end
redis.call('PUBLISH', KEYS[4], tostring(until_ms) .. ' ' .. id)
return {failures, until_ms}
