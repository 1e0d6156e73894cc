/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provider_harness -- setup shared by the provider family tests: a one-deployment config loaded
 * from inline YAML with its provider looked up, golden and fixture file reads, JSON parsing,
 * upstream request buffers and a stream runner.
 *
 * Every helper aborts the test with a message (SL_TEST_FAIL) instead of returning an error.
 */
#ifndef SL_PROVIDER_HARNESS_H
#define SL_PROVIDER_HARNESS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/config.h"
#include "gateway/providers/provider.h"

/* Golden and fixture files larger than this fail the test. */
#define SL_HARNESS_MAX_FILE_BYTES (1024 * 1024)

/* A loaded config, its only deployment and that deployment's provider family. */
struct sl_provider_setup {
    struct sl_config cfg;
    const struct sl_deployment *d;
    const struct sl_provider *p;
};

/* Loads `yaml` (named `origin` in error messages), which must declare exactly one deployment,
 * and looks up the provider family of that deployment. */
void sl_harness_load(struct sl_provider_setup *s, const char *yaml, const char *origin);

/* Reads the whole file at `path`. The result is NUL-terminated and owned by the caller. */
char *sl_harness_read_path(const char *path, size_t *len);

/* Reads golden/<dir>/<name> from the source tree. */
char *sl_harness_read_golden(const char *dir, const char *name, size_t *len);

/* Reads <dir>/<name> from the SLUICE_FIXTURES directory. Skips the test when SLUICE_FIXTURES is
 * unset, as sl_test_fixtures_dir() does. */
char *sl_harness_read_fixture(const char *dir, const char *name, size_t *len);

/* Parses `text` with nesting up to `max_depth`. `what` names the text in the failure message. */
cJSON *sl_harness_parse_json_depth(const char *text, size_t len, int max_depth, const char *what);

/* Parses `text` as sl_harness_parse_json_depth() does, with `max_depth` SL_JSON_MAX_DEPTH. */
cJSON *sl_harness_parse_json(const char *text, size_t len, const char *what);

/* The result of a stream run: the client bytes, the stream state, the last verdict and error,
 * and the number of events translated. */
struct sl_stream_run {
    struct sl_buf out;
    struct sl_stream_state st;
    struct sl_upstream_error err;
    enum sl_stream_verdict last;
    int events;
};

/*
 * Feeds `len` bytes of the SSE `stream` to the parser in pieces of `step` bytes, or all at once
 * when `step` is 0. Each event goes to `p->translate_event` with `ctx` until the verdict is no
 * longer SL_STREAM_CONTINUE or the bytes run out. Frees the family's stream state. The caller
 * disposes `run->out`.
 */
void sl_harness_run_stream(const struct sl_provider *p, const struct sl_call_ctx *ctx,
                           const char *stream, size_t len, size_t step, struct sl_stream_run *run);

/* Appends each header line of `h` to `out`, one per line. */
void sl_harness_headers_text(const struct curl_slist *h, struct sl_buf *out);

/* Zeroes `up` and initialises its URL and body buffers. */
void sl_harness_upstream_init(struct sl_upstream_request *up);

/* Frees the URL, body and header list of `up`. */
void sl_harness_upstream_dispose(struct sl_upstream_request *up);

#endif /* SL_PROVIDER_HARNESS_H */
