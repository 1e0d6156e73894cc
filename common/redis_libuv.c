/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis_libuv -- drives a hiredis 0.14 async context from one uv_poll_t.
 *
 * The libuv adapter of hiredis 0.14.1 (hiredis/adapters/libuv.h) drops every poll callback
 * whose status is an error. libuv 1.44 reports a socket with POLLERR, such as a refused
 * connect, with status UV_EBADF and stops the poll handle. With that adapter hiredis never
 * receives the failure, and the connect deadline reports a refused connection as a timeout. This
 * adapter passes such an event to hiredis, which reads the socket error and calls the connect
 * or disconnect callback with its errno text ("Connection refused").
 */
#include <stdlib.h>

#include "common/redis_internal.h"
#include "common/xalloc.h"

struct poll_watch {
    redisAsyncContext *ac; /* NULL once hiredis has released the context */
    uv_poll_t handle;
    int events; /* UV_READABLE and UV_WRITABLE currently requested by hiredis */
};

static void
on_poll(uv_poll_t *handle, int status, int events)
{
    struct poll_watch *w = handle->data;

    if (status < 0) {
        /* Before the connect completes, hiredis checks SO_ERROR on a write event.
         * Afterwards a read returns the error or end of file. */
        if (w->ac == NULL)
            return;
        if ((w->ac->c.flags & REDIS_CONNECTED) == 0)
            redisAsyncHandleWrite(w->ac);
        else
            redisAsyncHandleRead(w->ac);
        /* libuv stopped the handle. If hiredis kept the context, watch it again, or the
         * connection would hang with no event. */
        if (w->ac != NULL && w->events != 0)
            uv_poll_start(&w->handle, w->events, on_poll);
        return;
    }
    if (w->ac != NULL && (events & UV_READABLE))
        redisAsyncHandleRead(w->ac);
    if (w->ac != NULL && (events & UV_WRITABLE))
        redisAsyncHandleWrite(w->ac);
}

static void
update_poll(struct poll_watch *w, int events)
{
    w->events = events;
    if (events != 0)
        uv_poll_start(&w->handle, events, on_poll);
    else
        uv_poll_stop(&w->handle);
}

static void
add_read(void *privdata)
{
    struct poll_watch *w = privdata;

    update_poll(w, w->events | UV_READABLE);
}

static void
del_read(void *privdata)
{
    struct poll_watch *w = privdata;

    update_poll(w, w->events & ~UV_READABLE);
}

static void
add_write(void *privdata)
{
    struct poll_watch *w = privdata;

    update_poll(w, w->events | UV_WRITABLE);
}

static void
del_write(void *privdata)
{
    struct poll_watch *w = privdata;

    update_poll(w, w->events & ~UV_WRITABLE);
}

static void
free_watch(uv_handle_t *handle)
{
    free(handle->data);
}

static void
cleanup_watch(void *privdata)
{
    struct poll_watch *w = privdata;

    w->ac = NULL;
    uv_close((uv_handle_t *)&w->handle, free_watch);
}

int
sl_redis__attach_libuv(redisAsyncContext *ac, uv_loop_t *loop)
{
    struct poll_watch *w;

    if (ac->ev.data != NULL)
        return -1;
    w = sl_xcalloc(1, sizeof(*w));
    if (uv_poll_init(loop, &w->handle, ac->c.fd) != 0) {
        free(w);
        return -1;
    }
    w->ac = ac;
    w->handle.data = w;
    ac->ev.data = w;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup_watch;
    return 0;
}
