/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cache_flow -- the response cache in a model request. Before the relay, a cached response is
 * looked up and, on a hit, sent without calling the provider. After the relay, a complete
 * response is stored: a whole response as it was sent, a stream assembled from its chunks.
 * Embeddings are cached per input, so a request whose inputs partly hit forwards only the
 * others and merges the responses in order.
 *
 * Entries are keyed by the cache core (gateway/cache/cache.h) and kept in Redis
 * (gateway/cache/store.h). With Redis unavailable the request runs as if caching were off.
 */
#define SL_LOG_MODULE "cache"
#include "gateway/http/cache_flow.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/sse.h"
#include "common/xalloc.h"
#include "gateway/auth/keys.h"
#include "gateway/cache/cache.h"
#include "gateway/cache/store.h"
#include "gateway/gateway.h"
#include "gateway/http/pipeline.h"
#include "gateway/http/request.h"
#include "gateway/worker.h"

/* Most inputs of one embeddings request that are cached one by one. */
#define CACHE_MAX_INPUTS 2048

struct sl_cache_state {
    char key[SL_CACHE_KEY_MAX]; /* whole requests; "" for embeddings */
    enum sl_call_kind kind;
    int store;      /* write a complete response */
    long ttl_s;     /* lifetime of a written entry */
    long s_maxage_s; /* accept only entries younger than this; -1 for any */
    size_t max_entry_bytes;

    /* Streams: the chunks sent, parsed back and assembled into one response. */
    int assembling;
    int failed; /* the stream cannot be stored (too large, malformed) */
    struct sl_sse_parser sse;
    struct sl_cache_assembler assembler;

    /* Embeddings: one key per input, the cached vectors, and where forwarded ones go. */
    size_t n_inputs;
    char (*input_keys)[SL_CACHE_KEY_MAX];
    cJSON *cached;      /* array of n_inputs: a vector, or null for a miss */
    size_t *forwarded;  /* input index of each forwarded input, in forwarding order */
    size_t n_forwarded;
};

void
sl_cache_state_free(struct sl_cache_state *c)
{
    if (c == NULL)
        return;
    if (c->assembling) {
        sl_sse_dispose(&c->sse);
        sl_cache_assembler_dispose(&c->assembler);
    }
    free(c->input_keys);
    cJSON_Delete(c->cached);
    free(c->forwarded);
    free(c);
}

/* ---------------------------------------------------------------- deciding */

static const char *
call_type_name(enum sl_call_kind kind)
{
    switch (kind) {
    case SL_KIND_CHAT:
        return "chat";
    case SL_KIND_COMPLETION:
        return "completion";
    case SL_KIND_EMBEDDING:
        return "embedding";
    default:
        return NULL;
    }
}

/* Returns 1 when cache_params.supported_call_types lists the kind, by LiteLLM's names. */
static int
supported(const struct sl_config *cfg, enum sl_call_kind kind)
{
    const char *names[2];

    switch (kind) {
    case SL_KIND_CHAT:
        names[0] = "completion";
        names[1] = "acompletion";
        break;
    case SL_KIND_COMPLETION:
        names[0] = "text_completion";
        names[1] = "atext_completion";
        break;
    case SL_KIND_EMBEDDING:
        names[0] = "embedding";
        names[1] = "aembedding";
        break;
    default:
        return 0;
    }
    for (size_t i = 0; i < cfg->cache_supported_call_types.n; i++) {
        const char *t = cfg->cache_supported_call_types.items[i];

        if (strcmp(t, names[0]) == 0 || strcmp(t, names[1]) == 0)
            return 1;
    }
    return 0;
}

/* Writes the tenant the entries of `rec` belong to: its team, else its key; the master key
 * and unauthenticated calls share one. */
static void
tenant_of(const struct sl_config *cfg, const struct sl_auth_record *rec, char *out, size_t size)
{
    if (cfg->cache_shared_across_teams)
        out[0] = '\0';
    else if (rec == NULL)
        snprintf(out, size, "admin");
    else if (rec->team_id != NULL)
        snprintf(out, size, "team:%s", rec->team_id);
    else
        snprintf(out, size, "key:%s", rec->token);
}

/* ---------------------------------------------------------------- hits */

static void
add_key_header(struct sl_request *r, const char *key)
{
    sl_request_add_header(r, "x-litellm-cache-key", key);
}

/* Sends `response` (a stored response, refreshed) as the client asked: JSON or a stream. */
static void
send_hit(struct sl_request *r, cJSON *response, const char *key, int include_usage)
{
    struct sl_buf frames;
    char *text;

    add_key_header(r, key);
    if (!r->stream) {
        text = sl_json_print(response);
        sl_request_respond_json(r, 200, text, strlen(text));
        free(text);
        return;
    }
    sl_buf_init(&frames, 0);
    sl_cache_stream_frames(response, include_usage, &frames);
    sl_request_add_header(r, "cache-control", "no-cache");
    sl_request_start(r, 200, "text/event-stream");
    sl_request_write(r, frames.data, frames.len);
    sl_request_end(r, H2O_SEND_STATE_FINAL);
    sl_buf_dispose(&frames);
}

/* Returns the stored response of an entry that is fresh enough, or NULL. */
static cJSON *
usable_entry(const struct sl_cache_state *c, const char *value, size_t len)
{
    int64_t stored_at = 0;
    cJSON *response = sl_cache_entry_decode(value, len, &stored_at);

    if (response == NULL)
        return NULL;
    if (c->s_maxage_s >= 0 && (int64_t)(sl_wall_ms() / 1000) - stored_at > c->s_maxage_s) {
        cJSON_Delete(response);
        return NULL;
    }
    return response;
}

static int
wants_usage(const struct sl_request *r)
{
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(r->body, "stream_options");

    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "include_usage"));
}

static void
on_whole_lookup(struct sl_worker *w, enum sl_status st, const char *value, size_t len, void *data)
{
    struct sl_request *r = data;
    struct sl_cache_state *c = r->cache;
    cJSON *response;

    (void)w;
    if (r->req == NULL)
        goto out;
    r->cache_looked_up = 1;
    response = st == SL_OK ? usable_entry(c, value, len) : NULL;
    if (response == NULL) {
        sl_relay_start(r);
        goto out;
    }
    sl_cache_refresh(response, c->kind == SL_KIND_CHAT ? "chatcmpl-" : "cmpl-");
    r->cache_hit = 1;
    send_hit(r, response, c->key, wants_usage(r));
    cJSON_Delete(response);
out:
    sl_request_release(r);
}

/* ---------------------------------------------------------------- embeddings */

/* Returns the inputs of an embeddings body as an array to walk: the list itself, or NULL for
 * a single input (which is cached as a list of one). */
static const cJSON *
input_list(const cJSON *body)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input");

    /* A list of token ids is one input; a list of strings or of token lists is several. */
    if (cJSON_IsArray(input) && input->child != NULL && !cJSON_IsNumber(input->child))
        return input;
    return NULL;
}

/* Builds OpenAI's embeddings response from the vectors in `c->cached` (all present). */
static cJSON *
embeddings_response(const struct sl_request *r, const cJSON *cached)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(out, "data");
    cJSON *usage;
    const cJSON *vec;
    int i = 0;

    cJSON_AddStringToObject(out, "object", "list");
    cJSON_ArrayForEach(vec, cached)
    {
        cJSON *item = cJSON_CreateObject();

        cJSON_AddStringToObject(item, "object", "embedding");
        cJSON_AddNumberToObject(item, "index", i++);
        cJSON_AddItemToObject(item, "embedding", cJSON_Duplicate(vec, 1));
        cJSON_AddItemToArray(data, item);
    }
    cJSON_AddStringToObject(out, "model", r->model);
    usage = cJSON_AddObjectToObject(out, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", 0);
    cJSON_AddNumberToObject(usage, "total_tokens", 0);
    return out;
}

/* Replaces the body's inputs with the ones no entry matched, so that the provider builds its
 * request from the changed body. */
static void
forward_missing(struct sl_request *r, struct sl_cache_state *c)
{
    const cJSON *list = input_list(r->body);
    cJSON *subset = cJSON_CreateArray();
    size_t i = 0;
    const cJSON *item;

    c->forwarded = sl_xcalloc(c->n_inputs, sizeof(*c->forwarded));
    if (list == NULL) {
        cJSON_Delete(subset);
        c->forwarded[c->n_forwarded++] = 0;
        return;
    }
    cJSON_ArrayForEach(item, list)
    {
        if (cJSON_IsNull(cJSON_GetArrayItem(c->cached, (int)i))) {
            cJSON_AddItemToArray(subset, cJSON_Duplicate(item, 1));
            c->forwarded[c->n_forwarded++] = i;
        }
        i++;
    }
    if (c->n_forwarded == c->n_inputs) {
        cJSON_Delete(subset);
        return;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(r->body, "input", subset);
    /* The raw bytes no longer match the body. */
    r->ctx.raw_body = NULL;
    r->ctx.raw_len = 0;
}

static void
on_inputs_lookup(struct sl_worker *w, enum sl_status st, const struct sl_cache_value *values,
                 size_t n, void *data)
{
    struct sl_request *r = data;
    struct sl_cache_state *c = r->cache;
    size_t hits = 0;
    cJSON *response;

    (void)w;
    if (r->req == NULL)
        goto out;
    r->cache_looked_up = 1;
    c->cached = cJSON_CreateArray();
    for (size_t i = 0; i < c->n_inputs; i++) {
        cJSON *entry = st == SL_OK && i < n && values[i].ptr != NULL
                           ? usable_entry(c, values[i].ptr, values[i].len)
                           : NULL;

        /* An input's entry is {"object": "embedding", "embedding": <vector>}. */
        cJSON *vec = entry != NULL ? cJSON_DetachItemFromObjectCaseSensitive(entry, "embedding")
                                   : NULL;

        cJSON_Delete(entry);
        if (cJSON_IsArray(vec) || cJSON_IsString(vec)) {
            cJSON_AddItemToArray(c->cached, vec);
            hits++;
        } else {
            cJSON_Delete(vec);
            cJSON_AddItemToArray(c->cached, cJSON_CreateNull());
        }
    }
    if (hits == c->n_inputs) {
        response = embeddings_response(r, c->cached);
        r->cache_hit = 1;
        send_hit(r, response, c->input_keys[0], 0);
        cJSON_Delete(response);
        goto out;
    }
    forward_missing(r, c);
    sl_relay_start(r);
out:
    sl_request_release(r);
}

/* Starts the per-input lookup of an embeddings request. Returns 0 when it cannot be cached. */
static int
begin_inputs(struct sl_request *r, struct sl_cache_state *c, const char *group,
             const char *tenant, const char *ns)
{
    const cJSON *list = input_list(r->body);
    const cJSON *item;
    const char **keys;
    size_t i = 0;

    c->n_inputs = list != NULL ? (size_t)cJSON_GetArraySize(list) : 1;
    if (c->n_inputs == 0 || c->n_inputs > CACHE_MAX_INPUTS)
        return 0;
    c->input_keys = sl_xcalloc(c->n_inputs, sizeof(*c->input_keys));
    if (list == NULL) {
        sl_cache_embedding_input_key(r->body, cJSON_GetObjectItemCaseSensitive(r->body, "input"),
                                     group, tenant, ns, c->input_keys[0]);
    } else {
        cJSON_ArrayForEach(item, list)
        {
            sl_cache_embedding_input_key(r->body, item, group, tenant, ns, c->input_keys[i++]);
        }
    }
    keys = sl_xcalloc(c->n_inputs, sizeof(*keys));
    for (i = 0; i < c->n_inputs; i++)
        keys[i] = c->input_keys[i];
    sl_request_retain(r);
    sl_cache_mget(r->worker, keys, c->n_inputs, on_inputs_lookup, r);
    free(keys);
    return 1;
}

/* ---------------------------------------------------------------- the lookup */

int
sl_cache_begin(struct sl_request *r, const struct sl_auth_record *rec, const char *group)
{
    const struct sl_config *cfg = &r->worker->gw->cfg;
    struct sl_cache_controls controls;
    struct sl_cache_state *c;
    const char *param = NULL;
    const char *forbidden;
    struct sl_errbuf err;
    char tenant[SL_AUTH_HASH_HEX_LEN + 300];
    const char *ns;
    int lookup;

    /* Stored responses replay as chat streams only, so streamed text completions are not
     * cached. */
    if (!cfg->cache || !supported(cfg, r->ctx.kind) || call_type_name(r->ctx.kind) == NULL ||
        (r->ctx.kind == SL_KIND_COMPLETION && r->stream))
        return SL_CACHE_PASS;
    if (sl_cache_controls_parse(r->body, &controls, &param, &err) != SL_OK) {
        sl_request_respond_error(r, 400, "invalid_request_error", param, "%s", err.msg);
        return SL_CACHE_DONE;
    }
    forbidden = rec != NULL ? sl_cache_controls_forbidden(
                                  &controls, r->body,
                                  (const char *const *)rec->allowed_cache_controls.items,
                                  rec->allowed_cache_controls.n)
                            : NULL;
    if (forbidden != NULL) {
        sl_request_respond_error(r, 403, "auth_error", "cache",
                                 "Not allowed to set %s as a cache control. Contact admin to "
                                 "change permissions.",
                                 forbidden);
        sl_cache_controls_dispose(&controls);
        return SL_CACHE_DONE;
    }
    if (controls.caching_off || (cfg->cache_mode == SL_CACHE_DEFAULT_OFF && !controls.use_cache)) {
        sl_cache_controls_dispose(&controls);
        return SL_CACHE_PASS;
    }

    c = sl_xcalloc(1, sizeof(*c));
    r->cache = c;
    c->kind = r->ctx.kind;
    c->store = !controls.no_store;
    c->ttl_s = controls.ttl_s > 0 ? controls.ttl_s : (long)cfg->cache_ttl_s;
    c->s_maxage_s = controls.s_maxage_s;
    c->max_entry_bytes = (size_t)cfg->cache_max_entry_bytes;
    lookup = !controls.no_cache;
    tenant_of(cfg, rec, tenant, sizeof(tenant));
    ns = controls.namespace != NULL ? controls.namespace : cfg->cache_namespace;

    if (c->kind == SL_KIND_EMBEDDING) {
        int started = lookup && begin_inputs(r, c, group, tenant[0] != '\0' ? tenant : NULL, ns);

        sl_cache_controls_dispose(&controls);
        if (started)
            return SL_CACHE_DONE;
        if (c->input_keys == NULL) {
            /* Too many inputs, or none: not cached at all. */
            r->cache = NULL;
            sl_cache_state_free(c);
        }
        return SL_CACHE_PASS;
    }
    sl_cache_key(r->body, call_type_name(c->kind), group, tenant[0] != '\0' ? tenant : NULL, ns,
                 c->key);
    sl_cache_controls_dispose(&controls);
    if (!lookup)
        return SL_CACHE_PASS;
    sl_request_retain(r);
    sl_cache_get(r->worker, c->key, on_whole_lookup, r);
    return SL_CACHE_DONE;
}

/* ---------------------------------------------------------------- storing */

static void
store_response(struct sl_request *r, const char *key, const cJSON *response)
{
    struct sl_cache_state *c = r->cache;
    char *entry = sl_cache_entry_encode(response, (int64_t)(sl_wall_ms() / 1000));
    size_t len = strlen(entry);

    if (len <= c->max_entry_bytes)
        sl_cache_put(r->worker, key, entry, len, c->ttl_s);
    free(entry);
}

/* Stores every forwarded input's vector, and fills the response with the cached ones. Returns
 * the merged response, or NULL when the provider's response does not match what was asked. */
static cJSON *
merge_inputs(struct sl_request *r, const cJSON *reply)
{
    struct sl_cache_state *c = r->cache;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(reply, "data");
    cJSON *merged;
    cJSON *out_data;
    const cJSON *item;

    if (!cJSON_IsArray(data) || (size_t)cJSON_GetArraySize(data) != c->n_forwarded)
        return NULL;
    if (c->cached == NULL) {
        c->cached = cJSON_CreateArray();
        for (size_t i = 0; i < c->n_inputs; i++)
            cJSON_AddItemToArray(c->cached, cJSON_CreateNull());
    }
    cJSON_ArrayForEach(item, data)
    {
        const cJSON *index = cJSON_GetObjectItemCaseSensitive(item, "index");
        const cJSON *vec = cJSON_GetObjectItemCaseSensitive(item, "embedding");
        double at = cJSON_IsNumber(index) ? index->valuedouble : -1;
        size_t pos;

        if (at < 0 || at >= (double)c->n_forwarded || vec == NULL)
            return NULL;
        pos = c->forwarded[(size_t)at];
        cJSON_ReplaceItemInArray(c->cached, (int)pos, cJSON_Duplicate(vec, 1));
        if (c->store) {
            cJSON *entry = cJSON_CreateObject();

            cJSON_AddStringToObject(entry, "object", "embedding");
            cJSON_AddItemToObject(entry, "embedding", cJSON_Duplicate(vec, 1));
            store_response(r, c->input_keys[pos], entry);
            cJSON_Delete(entry);
        }
    }
    merged = cJSON_Duplicate(reply, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(merged, "data");
    out_data = cJSON_AddArrayToObject(merged, "data");
    for (size_t i = 0; i < c->n_inputs; i++) {
        cJSON *entry = cJSON_CreateObject();

        cJSON_AddStringToObject(entry, "object", "embedding");
        cJSON_AddNumberToObject(entry, "index", (double)i);
        cJSON_AddItemToObject(entry, "embedding",
                              cJSON_Duplicate(cJSON_GetArrayItem(c->cached, (int)i), 1));
        cJSON_AddItemToArray(out_data, entry);
    }
    return merged;
}

void
sl_cache_whole(struct sl_request *r, struct sl_buf *body)
{
    struct sl_cache_state *c = r->cache;
    cJSON *reply = NULL;
    cJSON *merged;
    char *text;

    if (c == NULL || body->len == 0)
        return;
    if (sl_json_parse(body->data, body->len, SL_JSON_MAX_DEPTH, &reply, NULL) != SL_OK)
        return;
    if (c->kind != SL_KIND_EMBEDDING) {
        if (c->store)
            store_response(r, c->key, reply);
        cJSON_Delete(reply);
        return;
    }
    if (c->forwarded == NULL) {
        /* No lookup was made (no-cache): every input was forwarded. */
        c->forwarded = sl_xcalloc(c->n_inputs, sizeof(*c->forwarded));
        for (size_t i = 0; i < c->n_inputs; i++)
            c->forwarded[i] = i;
        c->n_forwarded = c->n_inputs;
    }
    merged = merge_inputs(r, reply);
    cJSON_Delete(reply);
    if (merged == NULL)
        return;
    if (c->n_forwarded < c->n_inputs) {
        text = sl_json_print(merged);
        sl_buf_reset(body);
        sl_buf_append(body, text, strlen(text));
        free(text);
    }
    cJSON_Delete(merged);
}

void
sl_cache_frames(struct sl_request *r, const char *data, size_t len)
{
    struct sl_cache_state *c = r->cache;
    struct sl_sse_event ev;
    enum sl_sse_result res;

    if (c == NULL || !c->store || c->failed || c->kind == SL_KIND_EMBEDDING)
        return;
    if (!c->assembling) {
        sl_sse_init(&c->sse, c->max_entry_bytes);
        sl_cache_assembler_init(&c->assembler, c->max_entry_bytes);
        c->assembling = 1;
    }
    if (sl_sse_feed(&c->sse, data, len) != SL_OK) {
        c->failed = 1;
        return;
    }
    while ((res = sl_sse_next(&c->sse, &ev)) == SL_SSE_EVENT) {
        cJSON *chunk = NULL;

        if (ev.data_len == 6 && memcmp(ev.data, "[DONE]", 6) == 0)
            continue;
        if (sl_json_parse(ev.data, ev.data_len, SL_JSON_MAX_DEPTH, &chunk, NULL) != SL_OK ||
            sl_cache_assembler_feed(&c->assembler, chunk) != SL_OK)
            c->failed = 1;
        cJSON_Delete(chunk);
        if (c->failed)
            return;
    }
    if (res == SL_SSE_ERROR)
        c->failed = 1;
}

void
sl_cache_stream_done(struct sl_request *r)
{
    struct sl_cache_state *c = r->cache;
    cJSON *reply;

    if (c == NULL || !c->assembling || c->failed || !c->store)
        return;
    reply = sl_cache_assembler_finish(&c->assembler);
    if (reply == NULL)
        return;
    store_response(r, c->key, reply);
    cJSON_Delete(reply);
}
