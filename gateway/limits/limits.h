/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits -- budgets and rate limits of a model request (docs/limits.md): admission before the
 * provider call and settlement after the response, each one script call to Redis
 * (lua-scripts/admit.lua and settle.lua) that covers every scope of the request at once.
 *
 * While Redis cannot be reached, general_settings.redis_failure_mode decides: fail_open counts
 * in this process's memory (gateway/limits/local.c, the same rules per node), fail_closed
 * rejects with 503. Without Redis in the config, limits are always counted in memory.
 * Loop thread only, but for the in-memory counters, which are shared by the process.
 */
#ifndef SL_LIMITS_H
#define SL_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "common/budget_period.h"

struct sl_auth_record;
struct sl_model_group;
struct sl_request;
struct sl_worker;

/* The scopes in the order they are checked; the names are LiteLLM's descriptors. */
enum sl_limit_scope {
    SL_SCOPE_API_KEY,
    SL_SCOPE_USER,
    SL_SCOPE_TEAM,
    SL_SCOPE_TEAM_MEMBER,
    SL_SCOPE_ORGANIZATION,
    SL_SCOPE_END_USER,
    SL_SCOPE_MODEL_PER_KEY,
    SL_SCOPE_MODEL_PER_TEAM,
    SL_SCOPE_GLOBAL,
    SL_SCOPE_COUNT,
};

/* Maximum length of a scope id: a key hash or an id from the database, a colon and a model
 * name. */
#define SL_LIMITS_ID_MAX 600

/* One scope of a request with the limits that apply to it. */
struct sl_limits_scope {
    enum sl_limit_scope kind;
    char *id; /* owned by the request's limits, at most SL_LIMITS_ID_MAX bytes */
    int64_t rpm;      /* -1: unset */
    int64_t tpm;      /* -1: unset */
    int64_t parallel; /* -1: unset */
    double max_budget;  /* USD, NAN: unset or not checked (a free model group) */
    double soft_budget; /* USD, NAN: unset */
    int has_period;     /* budget_duration set and valid */
    struct sl_budget_duration period;
    int count_spend; /* the request's cost is added to this scope's spend */
    double pg_spend;         /* the entity's spend reconciled in PostgreSQL */
    int64_t pg_period_start; /* the period that spend belongs to, Unix seconds; 0 none */

    /* Admission's findings, for the response headers. */
    int64_t left_requests;
    int64_t left_tokens;
    int64_t left_parallel;
    double spend; /* the period's spend before this request */
};

/* The limits of one request and what its spend event needs; owned by the request. */
struct sl_limits {
    struct sl_limits_scope scopes[SL_SCOPE_COUNT];
    size_t n;
    /* The key's owners, copied from its record for the spend event; NULL when absent. */
    char *key_hash;
    char *key_alias;
    char *user_id;
    char *user_email;
    char *team_alias;
    char *team_id;
    char *org_id;
    char *end_user;
    char *client_ip;
    char *user_agent;
    char *request_body;  /* only with store_prompts_in_spend_logs */
    char *response_body; /* idem, whole responses only */
    int admitted; /* counted by admission: settlement is owed */
    int scopes_read; /* admission filled each scope's left_* and spend; stays after settling */
    int in_memory; /* admitted by the in-memory counters, so settled there too */
    int free_group; /* every deployment of the model group is priced at 0: no budget applies */
    uint64_t admitted_ms; /* the wall clock admission used, in Unix milliseconds */
    char request_id[40];
};

/* Receives control after admission, with the key's record (NULL for the master key) valid
 * until it returns. Not called when the request was rejected: the error has then been sent. */
typedef void (*sl_limits_next_cb)(struct sl_request *r, const struct sl_auth_record *rec,
                                  void *privdata);

/*
 * Admits model request `r` for model group `group` (its name and prices) with key record
 * `rec` (NULL for the master key): finds its end user, builds its scopes, runs admission and
 * then calls `next`, at once when nothing applies, else from a later loop iteration with a
 * copy of `rec`. A rejection (budget, limit, blocked end user, fail_closed outage, malformed
 * end user id) is sent in the client's envelope instead. Call after the body was parsed.
 */
void sl_limits_begin(struct sl_request *r, const struct sl_auth_record *rec,
                     const struct sl_model_group *group, sl_limits_next_cb next, void *privdata);

/* Settles an admitted request once it ended, whatever the outcome: its tokens, cost and
 * parallel slots. Does nothing for a request that was not admitted or already settled. */
void sl_limits_settle(struct sl_request *r);

/* Writes `v` as Python's repr() writes a float ("0.0", "0.095", "1e-05"), as LiteLLM's
 * budget messages print money. */
void sl_limits_format_money(double v, char out[32]);

/* Registers the metrics of budgets and limits; call once before the workers start. */
void sl_limits_metrics_register(void);

/* Returns the spend that rebuilds scope `s`'s live spend at `now_ms` when Redis lost it: the
 * PostgreSQL spend when it belongs to the current period, else -1. */
double sl_limits_seed(const struct sl_limits_scope *s, uint64_t now_ms);

/* Returns 1 while Redis cannot be reached and limits are counted in memory. */
int sl_limits_degraded(void);

/* Returns the cost of `r` in USD from its usage and the deployment that served it (0 for a
 * cache hit or without usage), and in `*priced`, unless NULL, 0 when that deployment has no
 * price for its model (the cost is then 0). */
double sl_limits_request_cost(const struct sl_request *r, int *priced);

/*
 * Adds x-litellm-response-cost (when above 0) and x-litellm-key-spend (when admission read
 * the key's spend) to a whole successful response whose usage is known, and keeps `len` bytes
 * of `body` for the spend event when store_prompts_in_spend_logs is on. Streams get neither
 * header: their cost is known only after the head was sent.
 */
void sl_limits_whole_response(struct sl_request *r, const char *body, size_t len);

/* Frees the limits of a request. */
void sl_limits_free(struct sl_limits *l);

/* Loads the scripts for worker `w`, and frees them. */
void sl_limits_worker_init(struct sl_worker *w);
void sl_limits_worker_dispose(struct sl_worker *w);

/* Returns the scope's name in headers and messages, e.g. "api_key". */
const char *sl_limits_scope_name(enum sl_limit_scope kind);

/*
 * The in-memory counters (local.c), process-wide. sl_limits_local_admit() applies the rules
 * of admit.lua to `l` at `now_ms`; on rejection it returns 0 and fills `*rejection`, else counts
 * the request and fills each scope's left_* and spend. sl_limits_local_settle() applies
 * settle.lua's rules and returns a bit per scope index whose soft budget this request crossed.
 */
struct sl_limits_rejection {
    size_t scope;       /* index into l->scopes */
    const char *limit_type; /* "budget", "requests", "tokens" or "max_parallel_requests" */
    int64_t limit;      /* for limits */
    int64_t remaining;  /* for limits */
    int64_t retry_ms;   /* for limits; -1: never */
    double spend;       /* for budgets */
    double max_budget;  /* for budgets */
    char limit_text[32]; /* max_budget as given to the script, for budgets */
};

int sl_limits_local_admit(struct sl_limits *l, uint64_t now_ms, uint64_t slot_ms,
                          struct sl_limits_rejection *rejection);
unsigned sl_limits_local_settle(struct sl_limits *l, uint64_t now_ms, const int64_t *tokens,
                                double cost);

#endif /* SL_LIMITS_H */
