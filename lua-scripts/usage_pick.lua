-- SPDX-License-Identifier: Apache-2.0
-- usage_pick -- usage-based-routing-v2: picks the deployment of a model group with the lowest
-- token count this minute among those with rpm and tpm headroom left, and counts one request
-- on it, in one atomic step shared by every gateway node.
--
-- The caller lists the candidates sorted by their `order` tier, lowest first. Only the first
-- tier that has a deployment with headroom is used, so a full tier passes traffic to the next.
-- Within a tier the first candidate with the lowest count wins: the caller shuffles ties.
-- Counters are per deployment and per minute of the caller's clock, and expire after ttl_s.
--
-- KEYS[2i-1]  request counter of candidate i, sluice:routing:rpm:<id>:<minute>
-- KEYS[2i]    token counter of candidate i, sluice:routing:tpm:<id>:<minute>
-- ARGV[1]     ttl_s         lifetime of a new request counter in seconds (integer >= 60)
-- ARGV[2]     input_tokens  the request's estimated prompt tokens (integer >= 0)
-- ARGV[1+3i]  rpm limit of candidate i (integer >= 0; 0: no limit)
-- ARGV[2+3i]  tpm limit of candidate i (integer >= 0; 0: no limit)
-- ARGV[3+3i]  tier of candidate i (integer; candidates are sorted by it)
--
-- Returns {i, requests, tokens}: the 1-based index of the chosen candidate with its request
-- count after this call and its token count, or {0, 0, 0} when no candidate has headroom.

local ttl = tonumber(ARGV[1])
local input = tonumber(ARGV[2])
local n = #KEYS / 2

local function is_count(v)
    return v ~= nil and v >= 0 and v == math.floor(v)
end

if not (is_count(ttl) and ttl >= 60 and is_count(input)) or n ~= math.floor(n) or
        #ARGV ~= 2 + 3 * n then
    return redis.error_reply('usage_pick: expected ttl_s >= 60, input_tokens >= 0, two keys ' ..
        'and three limits per candidate')
end

local best = 0
local best_tokens = 0
local best_requests = 0
local best_tier = nil

for i = 1, n do
    local rpm = tonumber(ARGV[3 * i])
    local tpm = tonumber(ARGV[3 * i + 1])
    local tier = tonumber(ARGV[3 * i + 2])
    if not (is_count(rpm) and is_count(tpm)) or tier == nil then
        return redis.error_reply('usage_pick: the limits of candidate ' .. i .. ' are invalid')
    end
    if best_tier ~= nil and tier > best_tier then
        break
    end
    local requests = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
    local tokens = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
    local fits = (rpm == 0 or requests + 1 <= rpm) and (tpm == 0 or tokens + input <= tpm)
    if fits and (best == 0 or tokens < best_tokens) then
        best = i
        best_tokens = tokens
        best_requests = requests
        best_tier = tier
    end
end

if best == 0 then
    return {0, 0, 0}
end
local count = redis.call('INCR', KEYS[2 * best - 1])
if count == 1 then
    redis.call('EXPIRE', KEYS[2 * best - 1], ttl)
end
return {best, best_requests + 1, best_tokens}
