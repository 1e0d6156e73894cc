-- SPDX-License-Identifier: Apache-2.0
-- usage_tokens -- usage-based-routing-v2: adds the tokens of a finished call to its
-- deployment's token counter of the minute the call was counted in (see usage_pick.lua).
--
-- KEYS[1]  token counter, sluice:routing:tpm:<id>:<minute>
-- ARGV[1]  tokens  tokens of the call (integer >= 0)
-- ARGV[2]  ttl_s   lifetime of a new counter in seconds (integer >= 60)
--
-- Returns the counter after the addition.

local tokens = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])

if tokens == nil or tokens < 0 or tokens ~= math.floor(tokens) or ttl == nil or ttl < 60 or
        ttl ~= math.floor(ttl) then
    return redis.error_reply('usage_tokens: tokens must be an integer >= 0 and ttl_s >= 60')
end

local total = redis.call('INCRBY', KEYS[1], tokens)
if redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ttl)
end
return total
