-- SPDX-License-Identifier: Apache-2.0
-- auth_fill -- stores a key's auth record read from PostgreSQL, unless the key changed since.
--
-- A lookup reads the key's change counter before it queries PostgreSQL. When a change commits
-- and auth_invalidate runs while the query is in flight, the counter moves, and the record
-- this lookup read (from before the change) is not stored. Without that check, a stale record
-- could be stored after the invalidation and serve every node until it expired.
--
-- KEYS[1]  the record, sluice:auth:<hash>
-- KEYS[2]  the key's change counter, sluice:authv:<hash>
-- ARGV[1]  the record (msgpack)
-- ARGV[2]  the counter as the lookup read it, "" when it did not exist
-- ARGV[3]  the record's lifetime in seconds
--
-- Returns 1 when the record was stored, 0 when the key changed meanwhile.

local seen = redis.call('GET', KEYS[2]) or ''
if seen ~= ARGV[2] then
    return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[3]))
return 1
