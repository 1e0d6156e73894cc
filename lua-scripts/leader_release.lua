-- SPDX-License-Identifier: Apache-2.0
-- Deletes the coordinator's leader key if it still holds this instance's id, so that on a
-- clean shutdown a standby takes over at its next attempt instead of waiting for the lease.
-- KEYS[1]: <prefix>coordinator:leader. ARGV[1]: instance id. Returns 1 when deleted, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
