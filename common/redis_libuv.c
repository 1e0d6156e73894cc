/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis_libuv -- hiredis 0.14's libuv adapter, alone in this file.
 *
 * The adapter header defines static functions with generic names (on_close among them) that
 * would clash with the callbacks of common/redis.c, so it is compiled in this translation unit
 * and reached through one function.
 */
#include <hiredis/adapters/libuv.h>

#include "common/redis_internal.h"

int
sl_redis__attach_libuv(redisAsyncContext *ac, uv_loop_t *loop)
{
    return redisLibuvAttach(ac, loop) == REDIS_OK ? 0 : -1;
}
