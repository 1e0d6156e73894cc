/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate -- type checks of a chat completions request body before anything is sent.
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

/*
 * Checks `body` as an OpenAI chat completions request. Returns SL_OK, or SL_ERR_INVALID with
 * the message in `err` and the offending field in `*param` (a static string or a member name
 * borrowed from `body`).
 */
enum sl_status sl_validate_chat(const cJSON *body, const char **param, struct sl_errbuf *err);

#endif /* SL_VALIDATE_H */
