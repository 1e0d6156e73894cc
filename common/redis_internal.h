/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis_internal -- shared between common/redis.c and common/redis_libuv.c only.
 */
#ifndef SL_REDIS_INTERNAL_H
#define SL_REDIS_INTERNAL_H

#include <hiredis/async.h>
#include <uv.h>

/*
 * Attaches `ac` to `loop` through one uv_poll_t that also hands socket errors to hiredis.
 * Returns 0, or -1 when the context already has an adapter or the poll handle cannot be
 * created (the caller frees `ac`).
 */
int sl_redis__attach_libuv(redisAsyncContext *ac, uv_loop_t *loop);

#endif /* SL_REDIS_INTERNAL_H */
