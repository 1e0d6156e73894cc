/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate -- type checks of a chat completions, text completions or embeddings request body
 * before anything is sent.
 *
 * A request the provider would reject for its shape is rejected here with a 400 that names
 * the field, so no provider call (and no spend) happens for it. Pure, thread-safe.
 */
#ifndef SL_VALIDATE_H
#define SL_VALIDATE_H

#include <cjson/cJSON.h>

#include "common/status.h"

/* Top-level members beyond this make a body invalid: OpenAI's API has about forty. */
#define SL_VALIDATE_MAX_MEMBERS 256

/* Requests may ask for at most this many choices (`n`). */
#define SL_VALIDATE_MAX_CHOICES 128

/* Returns the JSON type of `v` with its article ("a string", "an array", ...) for error
 * messages, or "null" for JSON null and a missing value. */
const char *sl_validate_type_name(const cJSON *v);

/* The first check of a request body that fails, in the order sl_validate_envelope() runs them. */
enum sl_validate_fault {
    SL_VALIDATE_OK,
    SL_VALIDATE_NOT_OBJECT,
    SL_VALIDATE_TOO_MANY_MEMBERS,
    SL_VALIDATE_DUPLICATE_KEY,
    SL_VALIDATE_MODEL_MISSING,
    SL_VALIDATE_MODEL_INVALID,
};

/*
 * Runs the checks every route shares: `body` is a JSON object of at most `max_members` members,
 * with no duplicate key and a non-empty string `model`. Sets `*dup` to the duplicate key
 * (borrowed from `body`) or NULL. Each caller writes the error message for the fault in the
 * wording of its own API.
 */
enum sl_validate_fault sl_validate_envelope(const cJSON *body, int max_members, const char **dup);

/*
 * Checks `body` as an OpenAI chat completions request. Returns SL_OK, or SL_ERR_INVALID with
 * the message in `err` and the offending field in `*param` (a static string or a member name
 * borrowed from `body`).
 */
enum sl_status sl_validate_chat(const cJSON *body, const char **param, struct sl_errbuf *err);

/* Inputs (`input` of embeddings, `prompt` of completions) beyond this make a body invalid:
 * OpenAI's embeddings API takes at most 2,048 inputs per request. */
#define SL_VALIDATE_MAX_INPUTS 2048

/*
 * Checks `body` as an OpenAI embeddings request: `input` is a non-empty string, or a non-empty
 * array of non-empty strings, of token ids, or of non-empty token id arrays. `stream: true` is
 * invalid because embeddings have no stream. Same results as sl_validate_chat().
 */
enum sl_status sl_validate_embeddings(const cJSON *body, const char **param,
                                      struct sl_errbuf *err);

/*
 * Checks `body` as an OpenAI (legacy) text completions request: `prompt` is a string, or a
 * non-empty array of strings, of token ids, or of non-empty token id arrays. Same results as
 * sl_validate_chat().
 */
enum sl_status sl_validate_completions(const cJSON *body, const char **param,
                                       struct sl_errbuf *err);

#endif /* SL_VALIDATE_H */
