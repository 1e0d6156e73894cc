/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cache/stream -- the response cache's side of streaming: the assembler that rebuilds one
 * chat.completion from the chunks of a streamed response, so it can be stored, and the replay
 * of a stored chat.completion as an SSE stream. See cache.h for the contracts.
 *
 * Text deltas are concatenated per choice, and tool call deltas per choice and tool call
 * index, as OpenAI's clients do. A delta member the assembler does not rebuild (audio, the
 * legacy function_call, logprobs) makes the response uncacheable instead of storing it without
 * that member.
 */
#include "gateway/cache/cache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/sse.h"
#include "common/xalloc.h"

/* Bytes charged to the assembler's cap for each choice and tool call, besides their text. */
#define ITEM_OVERHEAD_BYTES 64

/* The text members of a delta, concatenated across chunks. */
static const char *const text_fields[] = {"content", "reasoning_content", "refusal"};
#define N_TEXT_FIELDS (sizeof(text_fields) / sizeof(text_fields[0]))

struct tool_call {
    int seen;
    struct sl_buf id;   /* the first non-empty id sent */
    struct sl_buf type; /* the first non-empty type sent */
    struct sl_buf name; /* concatenated */
    struct sl_buf arguments;
};

struct sl_cache__choice {
    int seen;
    char *role;
    char *finish_reason;
    int text_seen[N_TEXT_FIELDS];
    struct sl_buf text[N_TEXT_FIELDS];
    struct tool_call *tool_calls; /* indexed by tool call index */
    size_t n_tool_calls;
};

void
sl_cache_assembler_init(struct sl_cache_assembler *a, size_t max_bytes)
{
    memset(a, 0, sizeof(*a));
    a->_max_bytes = max_bytes;
    a->_status = SL_OK;
}

static void
choice_dispose(struct sl_cache__choice *ch)
{
    free(ch->role);
    free(ch->finish_reason);
    for (size_t i = 0; i < N_TEXT_FIELDS; i++)
        sl_buf_dispose(&ch->text[i]);
    for (size_t i = 0; i < ch->n_tool_calls; i++) {
        sl_buf_dispose(&ch->tool_calls[i].id);
        sl_buf_dispose(&ch->tool_calls[i].type);
        sl_buf_dispose(&ch->tool_calls[i].name);
        sl_buf_dispose(&ch->tool_calls[i].arguments);
    }
    free(ch->tool_calls);
}

void
sl_cache_assembler_dispose(struct sl_cache_assembler *a)
{
    free(a->_id);
    free(a->_model);
    free(a->_system_fingerprint);
    cJSON_Delete(a->_usage);
    for (size_t i = 0; i < a->_n_choices; i++)
        choice_dispose(&a->_choices[i]);
    free(a->_choices);
    memset(a, 0, sizeof(*a));
}

/* Counts `n` more bytes against the cap; returns 0 and fails the assembler past it. */
static int
charge(struct sl_cache_assembler *a, size_t n)
{
    if (n > a->_max_bytes - a->_bytes || a->_bytes > a->_max_bytes) {
        a->_status = SL_ERR_TOO_LARGE;
        return 0;
    }
    a->_bytes += n;
    return 1;
}

/* Reads member `name` of `obj` as an index from 0 to max - 1; absent counts as 0, as some
 * providers leave out the index of their only choice. Returns -1 for anything else. */
static long
read_index(const cJSON *obj, const char *name, long max)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    double d;

    if (v == NULL)
        return 0;
    d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= 0 && d < (double)max) || d != floor(d))
        return -1;
    return (long)d;
}

/* Returns a string member's value, or NULL when absent or null; `*bad` is set when it is
 * there with another type. */
static const char *
optional_string(const cJSON *obj, const char *name, int *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (v == NULL || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v)) {
        *bad = 1;
        return NULL;
    }
    return v->valuestring;
}

/* Appends `s` to `b` after charging it to the cap; returns 0 on failure. */
static int
append_text(struct sl_cache_assembler *a, struct sl_buf *b, const char *s)
{
    size_t n = strlen(s);

    if (!charge(a, n))
        return 0;
    (void)sl_buf_append(b, s, n); /* uncapped, so it can fail only by aborting (sl_xmalloc) */
    return 1;
}

/* Keeps a copy of the first non-empty string given for a metadata member. */
static int
keep_first(struct sl_cache_assembler *a, char **slot, const char *s)
{
    if (*slot != NULL || s == NULL || s[0] == '\0')
        return 1;
    if (!charge(a, strlen(s)))
        return 0;
    *slot = sl_xstrdup(s);
    return 1;
}

static struct tool_call *
tool_call_at(struct sl_cache_assembler *a, struct sl_cache__choice *ch, size_t index)
{
    if (index >= ch->n_tool_calls) {
        ch->tool_calls = sl_xrealloc(ch->tool_calls, (index + 1) * sizeof(*ch->tool_calls));
        memset(ch->tool_calls + ch->n_tool_calls, 0,
               (index + 1 - ch->n_tool_calls) * sizeof(*ch->tool_calls));
        ch->n_tool_calls = index + 1;
    }
    if (!ch->tool_calls[index].seen) {
        struct tool_call *tc = &ch->tool_calls[index];

        if (!charge(a, ITEM_OVERHEAD_BYTES))
            return NULL;
        tc->seen = 1;
        sl_buf_init(&tc->id, 0);
        sl_buf_init(&tc->type, 0);
        sl_buf_init(&tc->name, 0);
        sl_buf_init(&tc->arguments, 0);
    }
    return &ch->tool_calls[index];
}

static enum sl_status
feed_tool_call(struct sl_cache_assembler *a, struct sl_cache__choice *ch, const cJSON *delta)
{
    const cJSON *function = cJSON_GetObjectItemCaseSensitive(delta, "function");
    long index = read_index(delta, "index", SL_CACHE_MAX_TOOL_CALLS);
    struct tool_call *tc;
    const char *id;
    const char *type;
    const char *name = NULL;
    const char *arguments = NULL;
    int bad = 0;

    if (!cJSON_IsObject(delta) || index < 0)
        return SL_ERR_INVALID;
    id = optional_string(delta, "id", &bad);
    type = optional_string(delta, "type", &bad);
    if (function != NULL && !cJSON_IsNull(function)) {
        if (!cJSON_IsObject(function))
            return SL_ERR_INVALID;
        name = optional_string(function, "name", &bad);
        arguments = optional_string(function, "arguments", &bad);
    }
    if (bad)
        return SL_ERR_INVALID;

    tc = tool_call_at(a, ch, (size_t)index);
    if (tc == NULL)
        return a->_status;
    if (id != NULL && tc->id.len == 0 && !append_text(a, &tc->id, id))
        return a->_status;
    if (type != NULL && tc->type.len == 0 && !append_text(a, &tc->type, type))
        return a->_status;
    if (name != NULL && !append_text(a, &tc->name, name))
        return a->_status;
    if (arguments != NULL && !append_text(a, &tc->arguments, arguments))
        return a->_status;
    return SL_OK;
}

/* Adds one delta to its choice. Members other than role, the text fields and tool_calls mark
 * the response uncacheable when they carry a value. */
static enum sl_status
feed_delta(struct sl_cache_assembler *a, struct sl_cache__choice *ch, const cJSON *delta)
{
    const cJSON *m;

    if (delta == NULL || cJSON_IsNull(delta))
        return SL_OK;
    if (!cJSON_IsObject(delta))
        return SL_ERR_INVALID;

    cJSON_ArrayForEach(m, delta) {
        size_t f;

        if (cJSON_IsNull(m))
            continue;
        if (strcmp(m->string, "role") == 0) {
            if (!cJSON_IsString(m))
                return SL_ERR_INVALID;
            if (!keep_first(a, &ch->role, m->valuestring))
                return a->_status;
            continue;
        }
        if (strcmp(m->string, "tool_calls") == 0) {
            const cJSON *tc;

            if (!cJSON_IsArray(m))
                return SL_ERR_INVALID;
            cJSON_ArrayForEach(tc, m) {
                enum sl_status rc = feed_tool_call(a, ch, tc);

                if (rc != SL_OK)
                    return rc;
            }
            continue;
        }
        for (f = 0; f < N_TEXT_FIELDS; f++) {
            if (strcmp(m->string, text_fields[f]) == 0)
                break;
        }
        if (f == N_TEXT_FIELDS) {
            a->_uncacheable = 1;
            continue;
        }
        if (!cJSON_IsString(m))
            return SL_ERR_INVALID;
        ch->text_seen[f] = 1;
        if (!append_text(a, &ch->text[f], m->valuestring))
            return a->_status;
    }
    return SL_OK;
}

static enum sl_status
feed_choice(struct sl_cache_assembler *a, const cJSON *choice)
{
    long index = read_index(choice, "index", SL_CACHE_MAX_CHOICES);
    const cJSON *logprobs = cJSON_GetObjectItemCaseSensitive(choice, "logprobs");
    struct sl_cache__choice *ch;
    const char *finish;
    int bad = 0;

    if (!cJSON_IsObject(choice) || index < 0)
        return SL_ERR_INVALID;
    finish = optional_string(choice, "finish_reason", &bad);
    if (bad)
        return SL_ERR_INVALID;

    if ((size_t)index >= a->_n_choices) {
        a->_choices = sl_xrealloc(a->_choices, (size_t)(index + 1) * sizeof(*a->_choices));
        memset(a->_choices + a->_n_choices, 0,
               ((size_t)index + 1 - a->_n_choices) * sizeof(*a->_choices));
        a->_n_choices = (size_t)index + 1;
    }
    ch = &a->_choices[index];
    if (!ch->seen) {
        if (!charge(a, ITEM_OVERHEAD_BYTES))
            return a->_status;
        ch->seen = 1;
        for (size_t f = 0; f < N_TEXT_FIELDS; f++)
            sl_buf_init(&ch->text[f], 0);
    }
    if (logprobs != NULL && !cJSON_IsNull(logprobs))
        a->_uncacheable = 1; /* NOTE: logprobs are not rebuilt, so such responses are not stored */

    if (finish != NULL) {
        free(ch->finish_reason);
        ch->finish_reason = NULL;
        if (!keep_first(a, &ch->finish_reason, finish))
            return a->_status;
    }
    return feed_delta(a, ch, cJSON_GetObjectItemCaseSensitive(choice, "delta"));
}

static enum sl_status
feed_metadata(struct sl_cache_assembler *a, const cJSON *chunk)
{
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(chunk, "created");
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(chunk, "usage");
    int bad = 0;
    const char *id = optional_string(chunk, "id", &bad);
    const char *model = optional_string(chunk, "model", &bad);
    const char *fingerprint = optional_string(chunk, "system_fingerprint", &bad);

    if (bad)
        return SL_ERR_INVALID;
    if (!keep_first(a, &a->_id, id) || !keep_first(a, &a->_model, model) ||
        !keep_first(a, &a->_system_fingerprint, fingerprint))
        return a->_status;
    if (!a->_has_created && cJSON_IsNumber(created) && isfinite(created->valuedouble)) {
        a->_created = created->valuedouble;
        a->_has_created = 1;
    }
    if (cJSON_IsObject(usage)) {
        char *printed = sl_json_print(usage);
        int ok = charge(a, strlen(printed));

        free(printed);
        if (!ok)
            return a->_status;
        cJSON_Delete(a->_usage);
        a->_usage = cJSON_Duplicate(usage, 1);
    }
    return SL_OK;
}

enum sl_status
sl_cache_assembler_feed(struct sl_cache_assembler *a, const cJSON *chunk)
{
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(chunk, "choices");
    const cJSON *choice;
    enum sl_status rc;

    if (a->_status != SL_OK)
        return a->_status;
    /* A chunk that names a member twice is ambiguous: such a stream is not stored. */
    if (!cJSON_IsObject(chunk) || (choices != NULL && !cJSON_IsArray(choices)) ||
        sl_json_has_duplicate_key(chunk)) {
        a->_status = SL_ERR_INVALID;
        return a->_status;
    }

    rc = feed_metadata(a, chunk);
    if (rc == SL_OK) {
        cJSON_ArrayForEach(choice, choices) {
            rc = feed_choice(a, choice);
            if (rc != SL_OK)
                break;
        }
    }
    if (rc != SL_OK)
        a->_status = rc;
    return a->_status;
}

static cJSON *
build_tool_calls(const struct sl_cache__choice *ch)
{
    cJSON *calls = cJSON_CreateArray();

    for (size_t i = 0; i < ch->n_tool_calls; i++) {
        const struct tool_call *tc = &ch->tool_calls[i];
        cJSON *call;
        cJSON *function;

        if (!tc->seen)
            continue;
        call = cJSON_CreateObject();
        cJSON_AddStringToObject(call, "id", tc->id.len > 0 ? tc->id.data : "");
        cJSON_AddStringToObject(call, "type", tc->type.len > 0 ? tc->type.data : "function");
        function = cJSON_AddObjectToObject(call, "function");
        cJSON_AddStringToObject(function, "name", tc->name.len > 0 ? tc->name.data : "");
        cJSON_AddStringToObject(function, "arguments",
                                tc->arguments.len > 0 ? tc->arguments.data : "");
        cJSON_AddItemToArray(calls, call);
    }
    return calls;
}

static cJSON *
build_choice(const struct sl_cache__choice *ch, size_t index)
{
    cJSON *choice = cJSON_CreateObject();
    cJSON *message;

    cJSON_AddNumberToObject(choice, "index", (double)index);
    message = cJSON_AddObjectToObject(choice, "message");
    cJSON_AddStringToObject(message, "role", ch->role != NULL ? ch->role : "assistant");
    for (size_t f = 0; f < N_TEXT_FIELDS; f++) {
        const char *text = ch->text[f].len > 0 ? ch->text[f].data : "";

        if (ch->text_seen[f])
            cJSON_AddStringToObject(message, text_fields[f], text);
        else if (f == 0)
            cJSON_AddNullToObject(message, "content"); /* OpenAI always sends content */
    }
    if (ch->n_tool_calls > 0)
        cJSON_AddItemToObject(message, "tool_calls", build_tool_calls(ch));
    cJSON_AddNullToObject(choice, "logprobs");
    cJSON_AddStringToObject(choice, "finish_reason", ch->finish_reason);
    return choice;
}

cJSON *
sl_cache_assembler_finish(struct sl_cache_assembler *a)
{
    cJSON *out;
    cJSON *choices;
    size_t seen = 0;

    if (a->_status != SL_OK || a->_uncacheable || a->_id == NULL || a->_model == NULL)
        return NULL;
    for (size_t i = 0; i < a->_n_choices; i++) {
        if (!a->_choices[i].seen)
            continue;
        if (a->_choices[i].finish_reason == NULL)
            return NULL; /* the stream was cut before this choice ended */
        seen++;
    }
    if (seen == 0)
        return NULL;

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "id", a->_id);
    cJSON_AddStringToObject(out, "object", "chat.completion");
    cJSON_AddNumberToObject(out, "created", a->_has_created ? a->_created : 0);
    cJSON_AddStringToObject(out, "model", a->_model);
    if (a->_system_fingerprint != NULL)
        cJSON_AddStringToObject(out, "system_fingerprint", a->_system_fingerprint);
    choices = cJSON_AddArrayToObject(out, "choices");
    for (size_t i = 0; i < a->_n_choices; i++) {
        if (a->_choices[i].seen)
            cJSON_AddItemToArray(choices, build_choice(&a->_choices[i], i));
    }
    if (a->_usage != NULL)
        cJSON_AddItemToObject(out, "usage", cJSON_Duplicate(a->_usage, 1));
    return out;
}

/* ---------------------------------------------------------------------------------------- */
/* Replay                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* Returns a chunk with the completion's id, created, model and system_fingerprint and an
 * empty choices array. */
static cJSON *
chunk_base(const cJSON *completion)
{
    static const char *const copied[] = {"id", "created", "model", "system_fingerprint"};
    cJSON *chunk = cJSON_CreateObject();

    for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(completion, copied[i]);

        if (v != NULL)
            cJSON_AddItemToObject(chunk, copied[i], cJSON_Duplicate(v, 1));
        if (i == 0)
            cJSON_AddStringToObject(chunk, "object", "chat.completion.chunk");
    }
    cJSON_AddArrayToObject(chunk, "choices");
    return chunk;
}

/* Writes `chunk` as one SSE event and frees it. */
static void
write_chunk(struct sl_buf *out, cJSON *chunk)
{
    char *data = sl_json_print(chunk);

    (void)sl_sse_write_data(out, data, strlen(data));
    free(data);
    cJSON_Delete(chunk);
}

/* Writes one chunk for choice `index` with `delta` (consumed) and `finish_reason`. */
static void
write_delta(struct sl_buf *out, const cJSON *completion, const cJSON *index, cJSON *delta,
            const cJSON *finish_reason)
{
    cJSON *chunk = chunk_base(completion);
    cJSON *choice = cJSON_CreateObject();

    cJSON_AddItemToObject(choice, "index",
                          index != NULL ? cJSON_Duplicate(index, 1) : cJSON_CreateNumber(0));
    cJSON_AddItemToObject(choice, "delta", delta);
    cJSON_AddNullToObject(choice, "logprobs");
    cJSON_AddItemToObject(choice, "finish_reason", finish_reason != NULL
                                                       ? cJSON_Duplicate(finish_reason, 1)
                                                       : cJSON_CreateNull());
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(chunk, "choices"), choice);
    write_chunk(out, chunk);
}

static void
write_choice(struct sl_buf *out, const cJSON *completion, const cJSON *choice)
{
    const cJSON *index = cJSON_GetObjectItemCaseSensitive(choice, "index");
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(choice, "message");
    const cJSON *tool_calls = cJSON_GetObjectItemCaseSensitive(message, "tool_calls");
    const char *role = sl_json_get_string(message, "role");
    const cJSON *call;
    cJSON *delta;
    int position = 0;

    delta = cJSON_CreateObject();
    cJSON_AddStringToObject(delta, "role", role != NULL ? role : "assistant");
    write_delta(out, completion, index, delta, NULL);

    for (size_t f = 0; f < N_TEXT_FIELDS; f++) {
        const char *text = sl_json_get_string(message, text_fields[f]);

        /* An empty string is sent too, so that "" and null stay distinct on replay. */
        if (text == NULL)
            continue;
        delta = cJSON_CreateObject();
        cJSON_AddStringToObject(delta, text_fields[f], text);
        write_delta(out, completion, index, delta, NULL);
    }

    cJSON_ArrayForEach(call, tool_calls) {
        cJSON *item = cJSON_Duplicate(call, 1);

        /* A tool call delta carries its position in the message's tool_calls. */
        cJSON_DeleteItemFromObjectCaseSensitive(item, "index");
        cJSON_AddNumberToObject(item, "index", position++);
        delta = cJSON_CreateObject();
        cJSON_AddItemToArray(cJSON_AddArrayToObject(delta, "tool_calls"), item);
        write_delta(out, completion, index, delta, NULL);
    }

    write_delta(out, completion, index, cJSON_CreateObject(),
                cJSON_GetObjectItemCaseSensitive(choice, "finish_reason"));
}

void
sl_cache_stream_frames(const cJSON *completion, int include_usage, struct sl_buf *out)
{
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(completion, "usage");
    const cJSON *choice;

    cJSON_ArrayForEach(choice, cJSON_GetObjectItemCaseSensitive(completion, "choices")) {
        if (cJSON_IsObject(choice))
            write_choice(out, completion, choice);
    }
    if (include_usage && cJSON_IsObject(usage)) {
        cJSON *chunk = chunk_base(completion);

        cJSON_AddItemToObject(chunk, "usage", cJSON_Duplicate(usage, 1));
        write_chunk(out, chunk);
    }
    (void)sl_buf_append_str(out, "data: [DONE]\n\n");
}
