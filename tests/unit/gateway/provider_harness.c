/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provider_harness -- see provider_harness.h. Built into a static library that the provider
 * family tests link.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/sse.h"
#include "fixtures.h"
#include "provider_harness.h"
#include "test.h"

/* The largest SSE event the stream runner accepts. */
#define MAX_EVENT_BYTES (256 * 1024)

#ifndef SL_GOLDEN_DIR
#error "SL_GOLDEN_DIR must name tests/unit/gateway/golden"
#endif

void
sl_harness_load(struct sl_provider_setup *s, const char *yaml, const char *origin)
{
    struct sl_errbuf err;

    if (sl_config_load_buffer(yaml, strlen(yaml), origin, &s->cfg, &err) != SL_OK)
        SL_TEST_FAIL("config did not load: %s", err.msg);
    if (s->cfg.n_deployments != 1)
        SL_TEST_FAIL("expected one deployment, got %zu", s->cfg.n_deployments);
    s->d = &s->cfg.deployments[0];
    s->p = sl_provider_find(s->d->provider);
    if (s->p == NULL)
        SL_TEST_FAIL("no provider family for \"%s\"", s->d->provider);
}

char *
sl_harness_read_path(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct sl_buf b;
    char chunk[4096];
    size_t n;

    if (f == NULL)
        SL_TEST_FAIL("cannot open %s", path);
    sl_buf_init(&b, SL_HARNESS_MAX_FILE_BYTES);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (sl_buf_append(&b, chunk, n) != SL_OK)
            SL_TEST_FAIL("%s is larger than %d bytes", path, SL_HARNESS_MAX_FILE_BYTES);
    fclose(f);
    return sl_buf_take(&b, len);
}

char *
sl_harness_read_golden(const char *dir, const char *name, size_t *len)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s/%s", SL_GOLDEN_DIR, dir, name);
    return sl_harness_read_path(path, len);
}

char *
sl_harness_read_fixture(const char *dir, const char *name, size_t *len)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s/%s", sl_test_fixtures_dir(), dir, name);
    return sl_harness_read_path(path, len);
}

cJSON *
sl_harness_parse_json_depth(const char *text, size_t len, int max_depth, const char *what)
{
    cJSON *root = NULL;
    struct sl_errbuf err;

    if (sl_json_parse(text, len, max_depth, &root, &err) != SL_OK)
        SL_TEST_FAIL("%s does not parse: %s", what, err.msg);
    return root;
}

cJSON *
sl_harness_parse_json(const char *text, size_t len, const char *what)
{
    return sl_harness_parse_json_depth(text, len, SL_JSON_MAX_DEPTH, what);
}

void
sl_harness_run_stream(const struct sl_provider *p, const struct sl_call_ctx *ctx,
                      const char *stream, size_t len, size_t step, struct sl_stream_run *run)
{
    struct sl_sse_parser parser;
    struct sl_sse_event ev;
    size_t off = 0;

    if (step == 0)
        step = len;
    memset(run, 0, sizeof(*run));
    sl_buf_init(&run->out, 0);
    run->last = SL_STREAM_CONTINUE;
    sl_sse_init(&parser, MAX_EVENT_BYTES);
    while (run->last == SL_STREAM_CONTINUE) {
        size_t n = len - off < step ? len - off : step;

        if (n > 0 && sl_sse_feed(&parser, stream + off, n) != SL_OK)
            SL_TEST_FAIL("sl_sse_feed failed at byte %zu", off);
        off += n;
        if (n == 0)
            sl_sse_finish(&parser);
        while (run->last == SL_STREAM_CONTINUE && sl_sse_next(&parser, &ev) == SL_SSE_EVENT) {
            struct sl_stream_event se = {ev.event, ev.event_len, ev.data, ev.data_len};

            run->events++;
            run->last = p->translate_event(ctx, &run->st, &se, &run->out, &run->err);
        }
        if (n == 0)
            break;
    }
    if (run->st.family_free != NULL)
        run->st.family_free(run->st.family);
    run->st.family = NULL;
    sl_sse_dispose(&parser);
}

void
sl_harness_headers_text(const struct curl_slist *h, struct sl_buf *out)
{
    for (; h != NULL; h = h->next)
        sl_buf_printf(out, "%s\n", h->data);
}

void
sl_harness_upstream_init(struct sl_upstream_request *up)
{
    memset(up, 0, sizeof(*up));
    sl_buf_init(&up->url, 0);
    sl_buf_init(&up->body, 0);
}

void
sl_harness_upstream_dispose(struct sl_upstream_request *up)
{
    sl_buf_dispose(&up->url);
    sl_buf_dispose(&up->body);
    curl_slist_free_all(up->headers);
}
