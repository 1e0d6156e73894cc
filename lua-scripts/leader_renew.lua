-- SPDX-License-Identifier: Apache-2.0
-- Renews the coordinator's leader lease only while the key still holds this instance's id, so
-- a coordinator whose lease already passed to another instance never extends the new lease.
-- KEYS[1]: <prefix>coordinator:leader. ARGV[1]: instance id. ARGV[2]: lease in milliseconds.
-- Returns 1 when renewed, 0 when the lease belongs to another instance or has expired.
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
