-- SPDX-License-Identifier: Apache-2.0
-- auth_invalidate -- drops a key's auth record and moves its change counter, so that a lookup
-- that read PostgreSQL before the change cannot store its record afterwards (auth_fill).
--
-- KEYS[1]  the record, sluice:auth:<hash>
-- KEYS[2]  the key's change counter, sluice:authv:<hash>
-- ARGV[1]  the counter's lifetime in seconds; it must outlive any lookup still in flight
--
-- Returns the new counter.

redis.call('DEL', KEYS[1])
local version = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1]))
return version
