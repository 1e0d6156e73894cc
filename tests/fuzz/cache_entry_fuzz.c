/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cache_entry_fuzz -- libFuzzer target for what the response cache reads back or collects
 * (sl_cache_entry_decode and the stream assembler in gateway/cache/).
 *
 * The input is decoded as a stored entry; a decoded response must be an object that encodes
 * and decodes again to the same value. The input is also split at newlines into JSON chunks
 * fed to an assembler with a small cap; its result must be NULL or a chat.completion with a
 * choices array, and replaying that result as SSE and assembling it again must give it back.
 * Mismatches abort.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/sse.h"
#include "gateway/cache/cache.h"

/* Small, so the fuzzer reaches the cap often. */
#define ASSEMBLER_MAX_BYTES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "cache_entry_fuzz: %s\n", what);
        abort();
    }
}

static void
fuzz_entry(const char *text, size_t len)
{
    int64_t timestamp = -1;
    int64_t again_ts = -1;
    cJSON *response = sl_cache_entry_decode(text, len, &timestamp);
    cJSON *again;
    char *encoded;

    if (response == NULL)
        return;
    check(cJSON_IsObject(response), "a decoded response is not an object");
    check(timestamp >= 0, "a decoded timestamp is negative");

    encoded = sl_cache_entry_encode(response, timestamp);
    again = sl_cache_entry_decode(encoded, strlen(encoded), &again_ts);
    check(again != NULL, "a re-encoded entry does not decode");
    check(again_ts == timestamp, "the timestamp changed on re-encoding");
    check(cJSON_Compare(response, again, 1), "the response changed on re-encoding");
    cJSON_Delete(again);
    free(encoded);
    cJSON_Delete(response);
}

/* Replays `completion` as SSE and assembles the frames again; the result must equal it. */
static void
check_replay(const cJSON *completion)
{
    struct sl_buf frames;
    struct sl_sse_parser p;
    struct sl_sse_event ev;
    struct sl_cache_assembler a;
    cJSON *again;

    sl_buf_init(&frames, 0);
    sl_cache_stream_frames(completion, 1, &frames);
    sl_sse_init(&p, frames.len + 1);
    sl_cache_assembler_init(&a, SL_CACHE_ENTRY_MAX_BYTES);
    check(sl_sse_feed(&p, frames.data, frames.len) == SL_OK, "the replay is not SSE");
    while (sl_sse_next(&p, &ev) == SL_SSE_EVENT) {
        cJSON *chunk = NULL;

        if (strcmp(ev.data, "[DONE]") == 0)
            continue;
        check(sl_json_parse(ev.data, ev.data_len, SL_JSON_MAX_DEPTH * 4, &chunk, NULL) == SL_OK,
              "a replayed chunk is not JSON");
        check(sl_cache_assembler_feed(&a, chunk) == SL_OK, "a replayed chunk was rejected");
        cJSON_Delete(chunk);
    }
    again = sl_cache_assembler_finish(&a);
    check(again != NULL, "the replay does not assemble");
    check(cJSON_Compare(completion, again, 1), "the replay assembles to another completion");
    cJSON_Delete(again);
    sl_cache_assembler_dispose(&a);
    sl_sse_dispose(&p);
    sl_buf_dispose(&frames);
}

static void
fuzz_chunks(const char *text, size_t len)
{
    struct sl_cache_assembler a;
    size_t start = 0;
    cJSON *out;

    sl_cache_assembler_init(&a, ASSEMBLER_MAX_BYTES);
    while (start < len) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        cJSON *chunk = NULL;

        if (sl_json_parse(text + start, end - start, SL_JSON_MAX_DEPTH, &chunk, NULL) ==
            SL_OK) {
            (void)sl_cache_assembler_feed(&a, chunk);
            cJSON_Delete(chunk);
        }
        start = end + 1;
    }
    out = sl_cache_assembler_finish(&a);
    if (out != NULL) {
        check(cJSON_IsObject(out), "the assembled result is not an object");
        check(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(out, "choices")),
              "the assembled result has no choices array");
        check(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out, "choices")) > 0,
              "the assembled result has no choice");
        check_replay(out);
        cJSON_Delete(out);
    }
    sl_cache_assembler_dispose(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_entry((const char *)data, size);
    fuzz_chunks((const char *)data, size);
    return 0;
}
