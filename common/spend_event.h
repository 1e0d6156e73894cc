/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spend_event -- the record of one model request that the gateway's settlement appends to the
 * Redis stream <prefix>spend:events and sluice-coordinator moves into spend_logs. It is a
 * msgpack map (field names below) in the stream entry's field "e". The gateway encodes, the
 * coordinator decodes. A decoder must accept maps with fields it does not know (newer
 * gateways) and fields missing (older ones): missing strings are NULL, numbers 0.
 */
#ifndef SL_SPEND_EVENT_H
#define SL_SPEND_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"

/* Version written in field "v"; a decoder refuses a newer major layout. */
#define SL_SPEND_EVENT_VERSION 1
/* Largest encoded event a decoder accepts, in bytes. */
#define SL_SPEND_EVENT_MAX_BYTES (4u * 1024 * 1024)
/* Most budget periods an event carries (one per scope that counts spend). */
#define SL_SPEND_EVENT_MAX_PERIODS 8
/* Longest string a decoder accepts, in bytes, except "request" and "response", which are
 * bounded only by SL_SPEND_EVENT_MAX_BYTES. */
#define SL_SPEND_EVENT_MAX_STRING_BYTES 4096

/* The budget period a scope's spend was counted in. */
struct sl_spend_period {
    char *scope;       /* "api_key", "user", "team", "team_member", "organization", "end_user" */
    char *id;          /* the scope's id, as in docs/limits.md */
    int64_t start_s;   /* period start in Unix seconds; 0 for a budget that never resets */
};

/* One request. Strings are owned and NULL when absent. Field names in msgpack are given. */
struct sl_spend_event {
    char *request_id;      /* "id": the gateway's call id, unique per request */
    char *call_type;       /* "call_type": "acompletion", "atext_completion", "aembedding",
                            * "anthropic_messages" */
    int64_t start_ms;      /* "start": request received, Unix milliseconds */
    int64_t end_ms;        /* "end": response ended */
    int64_t first_byte_ms; /* "first": first byte of a stream sent to the client; 0 none */
    char *key_hash;        /* "key": SHA-256 hex of the virtual key; NULL for the master key */
    char *key_alias;       /* "key_alias" */
    char *user_id;         /* "user" */
    char *team_id;         /* "team" */
    char *org_id;          /* "org" */
    char *end_user;        /* "end_user" */
    char *model_group;     /* "model_group": the model the client asked for */
    char *model;           /* "model": litellm_params.model of the deployment that served */
    char *model_id;        /* "model_id": deployment id */
    char *provider;        /* "provider" */
    char *api_base;        /* "api_base", without query string */
    int64_t prompt_tokens;         /* "prompt" */
    int64_t completion_tokens;     /* "completion" */
    int64_t cached_tokens;         /* "cached": prompt tokens read from the provider's cache */
    int64_t cache_creation_tokens; /* "cache_creation" */
    int64_t reasoning_tokens;      /* "reasoning": part of completion_tokens */
    int usage_estimated;           /* "estimated": the provider gave no usage */
    double cost;                   /* "cost": USD */
    int priced;                    /* "priced": 0 when the model had no price (cost 0) */
    int success;                   /* "ok": 1 success, 0 failure */
    int http_status;               /* "status": the status sent to the client */
    int cache_hit;                 /* "cache_hit" */
    char *client_ip;               /* "ip" */
    char *user_agent;              /* "ua" */
    char *request_body;            /* "request": only with store_prompts_in_spend_logs */
    char *response_body;           /* "response": idem */
    struct sl_spend_period periods[SL_SPEND_EVENT_MAX_PERIODS]; /* "periods": [[s, id, start]] */
    size_t n_periods;
};

/* Appends `ev` as a msgpack map to `out`. */
void sl_spend_event_encode(const struct sl_spend_event *ev, struct sl_buf *out);

/*
 * Reads `len` bytes written by sl_spend_event_encode() into `*ev` (zeroed first). Returns
 * SL_OK, or SL_ERR_INVALID for bytes that are not such an event, and `*ev` is then disposed.
 * Invalid are: wrong types, values over the caps, trailing bytes, "v" missing or newer than
 * SL_SPEND_EVENT_VERSION, and a negative count, time or cost. Unknown fields are skipped. A string may be nil (NULL) but
 * must not contain a NUL byte. Never allocates more than a small multiple of `len`.
 */
enum sl_status sl_spend_event_decode(const char *data, size_t len, struct sl_spend_event *ev);

/* Frees what `ev` owns and zeroes it. */
void sl_spend_event_dispose(struct sl_spend_event *ev);

#endif /* SL_SPEND_EVENT_H */
