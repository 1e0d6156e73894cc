/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits -- admission and settlement of model requests against budgets and rate limits.
 *
 * Admission builds the request's scopes from the key's record and the end user's row, then
 * calls admit.lua (or the in-memory counters) once. The reply either rejects, and the error
 * goes out in the client's envelope, or admits with what is left of every limit, which
 * becomes x-ratelimit-* headers. Settlement runs from the request's end, asks settle.lua once
 * and logs each soft budget this request crossed first. The scripts document the counters.
 */
#define SL_LOG_MODULE "limits"
#include <math.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/cost.h"
#include "common/json.h"
#include "common/log.h"
#include "common/lua_scripts.h"
#include "common/metrics.h"
#include "common/spend_event.h"
#include "common/redis.h"
#include "common/xalloc.h"
#include "gateway/auth/end_users.h"
#include "gateway/auth/keys.h"
#include "gateway/gateway.h"
#include "gateway/http/request.h"
#include "gateway/http/trace.h"
#include "gateway/limits/internal.h"
#include "gateway/limits/limits.h"
#include "gateway/router/router.h"
#include "gateway/worker.h"

const char *const sl_limits__scope_names[SL_SCOPE_COUNT] = {
    [SL_SCOPE_API_KEY] = "api_key",
    [SL_SCOPE_USER] = "user",
    [SL_SCOPE_TEAM] = "team",
    [SL_SCOPE_TEAM_MEMBER] = "team_member",
    [SL_SCOPE_ORGANIZATION] = "organization",
    [SL_SCOPE_END_USER] = "end_user",
    [SL_SCOPE_MODEL_PER_KEY] = "model_per_key",
    [SL_SCOPE_MODEL_PER_TEAM] = "model_per_team",
    [SL_SCOPE_GLOBAL] = "global",
};

/* 1 while Redis could not be reached for limits and the in-memory counters are in use. */
static atomic_int degraded;

static struct sl_metric_family *rejections_metric;
static struct sl_metric_family *failure_mode_metric;
/* general_settings.redis_failure_mode as the last outage read it. */
static atomic_int failure_mode = SL_REDIS_FAIL_OPEN;

/* Sets sluice_redis_failure_mode from the degraded flag and the failure mode. */
static void
show_failure_mode(void)
{
    static const char *const modes[] = {"none", "fail_open", "fail_closed"};
    int in_force = 0;

    if (failure_mode_metric == NULL)
        return;
    if (atomic_load(&degraded))
        in_force = atomic_load(&failure_mode) == SL_REDIS_FAIL_CLOSED ? 2 : 1;
    for (int i = 0; i < 3; i++)
        sl_metrics_gauge_set(failure_mode_metric, (const char *const[]){modes[i]}, i == in_force);
}

static double
read_degraded(void *arg)
{
    (void)arg;
    return atomic_load(&degraded);
}

void
sl_limits_metrics_register(void)
{
    static const char *const failure_mode_labels[] = {"mode", NULL};
    static const char *const rejection_labels[] = {"scope", "limit_type", NULL};

    rejections_metric = sl_metrics_register(
        SL_METRIC_COUNTER,
        &(struct sl_metric_spec){.name = "sluice_limit_rejections_total",
                                 .help = "Model requests rejected by a budget or rate limit, by "
                                         "scope and limit type (budget, requests, tokens, "
                                         "max_parallel_requests).",
                                 .labels = rejection_labels});
    sl_limits__settle_metrics_register();
    sl_metrics_register_callback_gauge("sluice_limits_degraded",
                                       "1 while Redis cannot be reached and budgets and rate "
                                       "limits are counted in each process's memory.",
                                       read_degraded, NULL);
    failure_mode_metric = sl_metrics_register(
        SL_METRIC_GAUGE,
        &(struct sl_metric_spec){.name = "sluice_redis_failure_mode",
                                 .help = "1 for the Redis failure mode in force: none while "
                                         "Redis answers or is not configured, else fail_open "
                                         "(limits counted in memory) or fail_closed (model "
                                         "requests rejected with 503).",
                                 .labels = failure_mode_labels});
    show_failure_mode();
}

static void
count_rejection(enum sl_limit_scope kind, const char *limit_type)
{
    if (rejections_metric != NULL)
        sl_metrics_counter_add(rejections_metric,
                               (const char *const[]){sl_limits__scope_names[kind], limit_type}, 1);
}

const char *
sl_limits_scope_name(enum sl_limit_scope kind)
{
    return kind < SL_SCOPE_COUNT ? sl_limits__scope_names[kind] : "unknown";
}

void
sl_limits_free(struct sl_limits *l)
{
    if (l == NULL)
        return;
    free(l->key_hash);
    free(l->key_alias);
    free(l->user_email);
    free(l->team_alias);
    free(l->user_id);
    free(l->team_id);
    free(l->org_id);
    free(l->end_user);
    free(l->client_ip);
    free(l->user_agent);
    free(l->request_body);
    free(l->response_body);
    for (size_t i = 0; i < l->n; i++)
        free(l->scopes[i].id);
    free(l);
}

/* ---------------------------------------------------------------- numbers */

void
sl_limits_format_money(double v, char out[32])
{
    if (isnan(v) || isinf(v)) {
        if (isnan(v))
            snprintf(out, 32, "nan");
        else
            snprintf(out, 32, "%s", v > 0 ? "inf" : "-inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e16) {
        /* Below 2^53 a whole number is exact, so its integer text plus ".0" is what "%.1f"
         * writes. -0.0 keeps its sign through "%.1f". */
        if (fabs(v) < 9007199254740992.0 && (v != 0.0 || !signbit(v))) {
            size_t len;

            sl_limits__format_int((int64_t)v, out);
            len = strlen(out);
            memcpy(out + len, ".0", 3);
            return;
        }
        snprintf(out, 32, "%.1f", v);
        return;
    }
    /* The shortest text that reads back as `v`. When it has at most 15 significant digits,
     * "%.15g" prints exactly it: `v` lies within half an ulp of it, far closer than the
     * rounding step of 15 digits, and %g drops the trailing zeros. So trying 15, 16 and 17
     * digits gives what trying every count from 1 gives, with 3 conversions instead of up to
     * 17. */
    for (int p = 15; p <= 17; p++) {
        snprintf(out, 32, "%.*g", p, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* Writes `ms` (Unix milliseconds) as "YYYY-mm-dd HH:MM:SS UTC". */
static void
format_reset(uint64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(out, 40, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(out, 40, "%llu", (unsigned long long)(ms / 1000));
}

/* ---------------------------------------------------------------- scopes */

/* Adds a scope with the limits of `a` (NULL: none) and the id made of `first`, and of ":"
 * and `second` when `second` is not NULL. Returns the scope, or NULL when the id is too long
 * (the scope is then skipped, which only happens for ids no management route accepts). */
static struct sl_limits_scope *
add_scope(struct sl_limits *l, enum sl_limit_scope kind, const struct sl_auth_limits *a,
          const char *first, const char *second)
{
    struct sl_limits_scope *s;
    char id[SL_LIMITS_ID_MAX + 1];
    int n;

    if (l->n >= SL_SCOPE_COUNT)
        return NULL;
    n = second != NULL ? snprintf(id, sizeof(id), "%s:%s", first, second)
                       : snprintf(id, sizeof(id), "%s", first);
    if (n < 0 || (size_t)n >= sizeof(id))
        return NULL;
    /* The id is allocated to its length: an open stream keeps its limits until it ends. */
    s = &l->scopes[l->n];
    s->id = sl_xstrdup(id);
    s->kind = kind;
    s->rpm = s->tpm = s->parallel = -1;
    s->max_budget = s->soft_budget = NAN;
    s->left_requests = s->left_tokens = s->left_parallel = -1;
    if (a != NULL) {
        s->rpm = a->rpm_limit;
        s->tpm = a->tpm_limit;
        s->parallel = a->max_parallel_requests;
        s->max_budget = a->max_budget;
        s->soft_budget = a->soft_budget;
        s->has_period = a->budget_duration != NULL &&
                        sl_budget_duration_parse(a->budget_duration, &s->period) == SL_OK;
        s->pg_spend = isnan(a->spend) ? 0.0 : a->spend;
        s->pg_period_start = a->period_start_s;
    }
    l->n++;
    return s;
}

static const struct sl_auth_model_limit *
model_limit(const struct sl_auth_model_limits *m, const char *model)
{
    for (size_t i = 0; model != NULL && i < m->n; i++)
        if (strcmp(m->items[i].model, model) == 0)
            return &m->items[i];
    return NULL;
}

static void
add_model_scope(struct sl_limits *l, enum sl_limit_scope kind, const struct sl_auth_model_limits *m,
                const char *owner, const char *model)
{
    const struct sl_auth_model_limit *ml = model_limit(m, model);
    struct sl_limits_scope *s;

    if (ml == NULL || (ml->rpm_limit < 0 && ml->tpm_limit < 0))
        return;
    s = add_scope(l, kind, NULL, owner, model);
    if (s != NULL) {
        s->rpm = ml->rpm_limit;
        s->tpm = ml->tpm_limit;
    }
}

/*
 * Adds the scopes of the key's record. Every entity the key belongs to gets a scope, limited
 * or not, because its spend is counted either way; the model scopes only when limited.
 */
static void
add_key_scopes(struct sl_limits *l, const struct sl_config *cfg, const struct sl_auth_record *rec)
{
    struct sl_limits_scope *s;

    s = add_scope(l, SL_SCOPE_API_KEY, &rec->key_limits, rec->token, NULL);
    if (s != NULL)
        s->count_spend = 1;
    if (rec->has_user && rec->user_id != NULL) {
        s = add_scope(l, SL_SCOPE_USER, &rec->user_limits, rec->user_id, NULL);
        /* A user's budget covers their personal keys unless the operator says otherwise. */
        if (s != NULL) {
            s->count_spend = rec->team_id == NULL || cfg->user_budget_includes_team_keys;
            if (!s->count_spend) {
                s->max_budget = NAN;
                s->soft_budget = NAN;
            }
        }
    }
    if (rec->has_team && rec->team_id != NULL) {
        s = add_scope(l, SL_SCOPE_TEAM, &rec->team_limits, rec->team_id, NULL);
        if (s != NULL)
            s->count_spend = 1;
        if (rec->has_member && rec->user_id != NULL) {
            s = add_scope(l, SL_SCOPE_TEAM_MEMBER, &rec->member_limits, rec->team_id, rec->user_id);
            if (s != NULL)
                s->count_spend = 1;
        }
    }
    if (rec->has_org && rec->org_id != NULL) {
        s = add_scope(l, SL_SCOPE_ORGANIZATION, &rec->org_limits, rec->org_id, NULL);
        if (s != NULL)
            s->count_spend = 1;
    }
}

/* Returns 1 when some scope of `l` has a limit or a budget to check. */
static int
anything_to_check(const struct sl_limits *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct sl_limits_scope *s = &l->scopes[i];

        if (s->rpm >= 0 || s->tpm >= 0 || s->parallel >= 0 || !isnan(s->max_budget) ||
            !isnan(s->soft_budget))
            return 1;
    }
    return 0;
}

/* Returns 1 when every deployment of `group` is priced at 0 explicitly. */
static int
group_is_free(const struct sl_model_group *group)
{
    if (group == NULL || group->n == 0)
        return 0;
    for (size_t i = 0; i < group->n; i++)
        if (!sl_cost_is_free(group->deployments[i]))
            return 0;
    return 1;
}

/* ---------------------------------------------------------------- end users */

static int
header_value(h2o_req_t *req, const char *name, const char **value, size_t *len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);

    if (i < 0 || req->headers.entries[i].value.len == 0)
        return 0;
    *value = req->headers.entries[i].value.base;
    *len = req->headers.entries[i].value.len;
    return 1;
}

static const char *
nested_string(const cJSON *body, const char *object, const char *member)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(body, object);

    return cJSON_IsObject(o) ? sl_json_get_string(o, member) : NULL;
}

/* Finds the request's end user, first match wins (docs/limits.md). Returns 1 with `*id` and
 * `*len` set, 0 when the request names none. */
static int
find_end_user(struct sl_request *r, const struct sl_config *cfg, const char **id, size_t *len)
{
    const cJSON *body = r->original != NULL ? r->original : r->body;
    const char *s;

    if (header_value(r->req, "x-litellm-customer-id", id, len) ||
        header_value(r->req, "x-litellm-end-user-id", id, len) ||
        (cfg->user_header_name != NULL && header_value(r->req, cfg->user_header_name, id, len)))
        return 1;
    s = sl_json_get_string(body, "user");
    if (s == NULL)
        s = nested_string(body, "litellm_metadata", "user");
    if (s == NULL)
        s = nested_string(body, "metadata", "user_id");
    if (s == NULL || s[0] == '\0')
        return 0;
    *id = s;
    *len = strlen(s);
    return 1;
}

/* ---------------------------------------------------------------- admission */

/* A request between the start of admission and its outcome. */
struct admission {
    struct sl_request *r;
    struct sl_auth_record rec; /* a copy, valid while the request waits */
    int has_rec;
    sl_limits_next_cb next;
    void *privdata;
    char end_user[SL_END_USER_ID_MAX + 1];
    int store_span;    /* admission's trace span, -1 for none */
    int end_user_span; /* the end-user lookup's trace span, -1 for none */
};

/* 1 while this thread is inside sl_end_user_lookup(): a callback then is a cache hit. */
static _Thread_local int in_end_user_call;

static void
admission_done(struct admission *a, int go_on)
{
    struct sl_request *r = a->r;

    if (go_on)
        a->next(r, a->has_rec ? &a->rec : NULL, a->privdata);
    if (a->has_rec)
        sl_auth_record_dispose(&a->rec);
    free(a);
    sl_request_release(r);
}

/* Writes the concatenation of the `n` strings of `parts` into `out` of `size` bytes, cut to
 * fit. */
static void
join(char *out, size_t size, const char *const *parts, size_t n)
{
    size_t used = 0;

    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(parts[i]);

        if (len > size - 1 - used)
            len = size - 1 - used;
        memcpy(out + used, parts[i], len);
        used += len;
    }
    out[used] = '\0';
}

static void
add_limit_headers(struct sl_request *r, const struct sl_limits_scope *s)
{
    const char *name = sl_limits__scope_names[s->kind];
    char header[96];
    char value[32];
    const struct {
        const char *limit_type;
        int64_t limit;
        int64_t left;
    } rows[] = {
        {"requests", s->rpm, s->left_requests},
        {"tokens", s->tpm, s->left_tokens},
        {"max_parallel_requests", s->parallel, s->left_parallel},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (rows[i].limit < 0)
            continue;
        const char *limit_parts[] = {"x-ratelimit-", name, "-limit-", rows[i].limit_type};
        const char *remaining_parts[] = {"x-ratelimit-", name, "-remaining-", rows[i].limit_type};

        join(header, sizeof(header), limit_parts, 4);
        sl_limits__format_int(rows[i].limit, value);
        sl_request_add_header(r, header, value);
        join(header, sizeof(header), remaining_parts, 4);
        sl_limits__format_int(rows[i].left < 0 ? 0 : rows[i].left, value);
        sl_request_add_header(r, header, value);
    }
}

/* The key's own settings, as LiteLLM reports them: x-litellm-key-max-budget, -rpm-limit and
 * -tpm-limit, each left out when unset. */
static void
add_key_headers(struct sl_request *r, const struct sl_limits_scope *s)
{
    char value[32];

    if (!isnan(s->max_budget)) {
        sl_limits_format_money(s->max_budget, value);
        sl_request_add_header(r, "x-litellm-key-max-budget", value);
    }
    if (s->rpm >= 0) {
        sl_limits__format_int(s->rpm, value);
        sl_request_add_header(r, "x-litellm-key-rpm-limit", value);
    }
    if (s->tpm >= 0) {
        sl_limits__format_int(s->tpm, value);
        sl_request_add_header(r, "x-litellm-key-tpm-limit", value);
    }
}

/* Adds the headers of an admitted request. */
static void
admitted_headers(struct sl_request *r)
{
    struct sl_limits *l = r->limits;
    char crossed[256] = "";
    size_t used = 0;

    l->scopes_read = 1;
    for (size_t i = 0; i < l->n; i++) {
        const struct sl_limits_scope *s = &l->scopes[i];

        if (s->kind == SL_SCOPE_API_KEY)
            add_key_headers(r, s);
        add_limit_headers(r, s);
        if (!isnan(s->soft_budget) && s->spend >= s->soft_budget) {
            int n = snprintf(crossed + used, sizeof(crossed) - used, "%s%s", used > 0 ? "," : "",
                             sl_limits__scope_names[s->kind]);
            if (n > 0 && (size_t)n < sizeof(crossed) - used)
                used += (size_t)n;
        }
    }
    if (used > 0)
        sl_request_add_header(r, "x-sluice-soft-budget-crossed", crossed);
}

static void
reject_budget(struct sl_request *r, const struct sl_limits_scope *s, const char *spend_text,
              const char *budget_text)
{
    char spend[32];
    char budget[32];
    size_t split = strcspn(s->id, ":");

    count_rejection(s->kind, "budget");
    sl_limits_format_money(strtod(spend_text, NULL), spend);
    sl_limits_format_money(strtod(budget_text, NULL), budget);
    switch (s->kind) {
    case SL_SCOPE_USER:
        sl_request_respond_error(r, 400, "budget_exceeded", NULL,
                                 "ExceededBudget: User=%s over budget. Spend=%s, Budget=%s", s->id,
                                 spend, budget);
        break;
    case SL_SCOPE_TEAM:
        sl_request_respond_error(r, 400, "budget_exceeded", NULL,
                                 "Budget has been exceeded! Team=%s Current cost: %s, Max "
                                 "budget: %s",
                                 s->id, spend, budget);
        break;
    case SL_SCOPE_TEAM_MEMBER:
        sl_request_respond_error(r, 400, "budget_exceeded", NULL,
                                 "Budget has been exceeded! User=%s in Team=%.*s Current cost: "
                                 "%s, Max budget: %s",
                                 s->id + (s->id[split] == ':' ? split + 1 : split), (int)split,
                                 s->id, spend, budget);
        break;
    case SL_SCOPE_ORGANIZATION:
        sl_request_respond_error(r, 400, "budget_exceeded", NULL,
                                 "Budget has been exceeded! Organization=%s Current cost: %s, "
                                 "Max budget: %s",
                                 s->id, spend, budget);
        break;
    case SL_SCOPE_END_USER:
        sl_request_respond_error(r, 400, "budget_exceeded", NULL,
                                 "ExceededBudget: End User=%s over budget. Spend=%s, Budget=%s",
                                 s->id, spend, budget);
        break;
    default:
        sl_request_respond_error(r, 400, "budget_exceeded", NULL,
                                 "Budget has been exceeded! Current cost: %s, Max budget: %s",
                                 spend, budget);
        break;
    }
}

static void
reject_limit(struct sl_request *r, const struct sl_limits_scope *s, const char *limit_type,
             int64_t limit, int64_t remaining, int64_t retry_ms)
{
    int64_t wait_ms = retry_ms < 0 ? 60000 : retry_ms;
    char reset[40];
    char retry[24];

    /* The wait counts from the clock admission used, so every rejection of one window names
     * the same reset second. */
    count_rejection(s->kind, limit_type);
    format_reset(r->limits->admitted_ms + (uint64_t)wait_ms, reset);
    snprintf(retry, sizeof(retry), "%lld", (long long)((wait_ms + 999) / 1000));
    sl_request_add_header(r, "retry-after", retry);
    sl_request_add_header(r, "rate_limit_type", limit_type);
    sl_request_add_header(r, "reset_at", reset);
    sl_request_respond_error(r, 429, "rate_limit_error", NULL,
                             "Rate limit exceeded for %s: %s. Limit type: %s. Current limit: "
                             "%lld, Remaining: %lld. Limit resets at: %s",
                             sl_limits__scope_names[s->kind], s->id, limit_type, (long long)limit,
                             (long long)(remaining < 0 ? 0 : remaining), reset);
}

static void
reject(struct sl_request *r, const struct sl_limits_rejection *f)
{
    const struct sl_limits_scope *s = &r->limits->scopes[f->scope];

    if (strcmp(f->limit_type, "budget") == 0) {
        char spend[32];

        snprintf(spend, sizeof(spend), "%.17g", f->spend);
        reject_budget(r, s, spend, f->limit_text);
        return;
    }
    reject_limit(r, s, f->limit_type, f->limit, f->remaining, f->retry_ms);
}

static uint64_t
slot_ms(const struct sl_config *cfg)
{
    return (uint64_t)(cfg->request_timeout_s * 1000.0) + 60000;
}

void
sl_limits__set_degraded(int on, const char *why)
{
    if (atomic_exchange(&degraded, on) == on)
        return;
    show_failure_mode();
    if (on)
        sl_log(SL_LOG_WARN, NULL, "limits.redis_degraded", SL_LOG_STR("reason", why),
               SL_LOG_STR("message", "Redis cannot be reached: limits and spend are counted in "
                                     "this process's memory until it answers"));
    else
        sl_log(SL_LOG_INFO, NULL, "limits.redis_recovered",
               SL_LOG_STR("message", "Redis answers again: limits and spend are counted there"));
}

int
sl_limits_degraded(void)
{
    return atomic_load(&degraded);
}

/* Admits with the in-memory counters; returns 1 when admitted, else the rejection is sent. */
static int
admit_in_memory(struct sl_request *r)
{
    struct sl_limits *l = r->limits;
    struct sl_limits_rejection f;

    l->admitted_ms = sl_wall_ms();
    if (!sl_limits_local_admit(l, l->admitted_ms, slot_ms(&r->worker->gw->cfg), &f)) {
        reject(r, &f);
        return 0;
    }
    l->admitted = 1;
    l->in_memory = 1;
    admitted_headers(r);
    return 1;
}

/* Applies a Redis outage to a request: fail_open counts in memory, fail_closed rejects.
 * Returns 1 when the request goes on. */
static int
outage(struct sl_request *r, const char *why)
{
    if (atomic_exchange(&failure_mode, (int)r->worker->gw->cfg.redis_failure_mode) !=
        (int)r->worker->gw->cfg.redis_failure_mode)
        show_failure_mode();
    sl_limits__set_degraded(1, why);
    if (r->worker->gw->cfg.redis_failure_mode == SL_REDIS_FAIL_CLOSED) {
        sl_request_respond_error(r, 503, "service_unavailable_error", NULL,
                                 "Budgets and rate limits cannot be checked because Redis is "
                                 "unavailable (general_settings.redis_failure_mode is "
                                 "fail_closed); retry later.");
        return 0;
    }
    return admit_in_memory(r);
}

int64_t
sl_limits__reply_int(const redisReply *e)
{
    if (e->type == REDIS_REPLY_INTEGER)
        return (int64_t)e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return -1;
}

static const char *
reply_str(const redisReply *e)
{
    return e->type == REDIS_REPLY_STRING ? e->str : "0";
}

/* Reads admit.lua's reply into `r`. Returns 1 for admitted, 0 for rejected (sent), -1 for a
 * reply of another shape. */
static int
read_admission(struct sl_request *r, const redisReply *reply)
{
    struct sl_limits *l = r->limits;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
        return -1;
    if (sl_limits__reply_int(reply->element[0]) == 1) {
        if (reply->elements != 1 + 4 * l->n)
            return -1;
        for (size_t i = 0; i < l->n; i++) {
            struct sl_limits_scope *s = &l->scopes[i];
            redisReply **e = reply->element + 1 + 4 * i;

            s->left_requests = sl_limits__reply_int(e[0]);
            s->left_tokens = sl_limits__reply_int(e[1]);
            s->left_parallel = sl_limits__reply_int(e[2]);
            s->spend = strtod(reply_str(e[3]), NULL);
        }
        l->admitted = 1;
        admitted_headers(r);
        return 1;
    }
    if (reply->elements != 6)
        return -1;
    int64_t index = sl_limits__reply_int(reply->element[1]) - 1;
    const char *limit_type = reply_str(reply->element[2]);

    if (index < 0 || (size_t)index >= l->n)
        return -1;
    if (strcmp(limit_type, "budget") == 0) {
        reject_budget(r, &l->scopes[index], reply_str(reply->element[4]),
                      reply_str(reply->element[3]));
        return 0;
    }
    if (strcmp(limit_type, "requests") != 0 && strcmp(limit_type, "tokens") != 0 &&
        strcmp(limit_type, "max_parallel_requests") != 0)
        return -1;
    reject_limit(r, &l->scopes[index], limit_type, sl_limits__reply_int(reply->element[3]),
                 sl_limits__reply_int(reply->element[4]), sl_limits__reply_int(reply->element[5]));
    return 0;
}

static void
on_admit_reply(struct sl_redis *redis, enum sl_status status, const redisReply *reply,
               void *privdata)
{
    struct admission *a = privdata;
    struct sl_request *r = a->r;
    int go_on;

    (void)redis;
    sl_trace_store_end(r, a->store_span, "redis",
                       status != SL_OK                    ? sl_status_str(status)
                       : reply->type == REDIS_REPLY_ERROR ? "script error"
                                                          : NULL);
    if (r->req == NULL) {
        /* The client left meanwhile: release what admission counted. */
        if (status == SL_OK && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
            sl_limits__reply_int(reply->element[0]) == 1) {
            r->limits->admitted = 1;
            sl_limits_settle(r);
        }
        admission_done(a, 0);
        return;
    }
    if (status != SL_OK) {
        go_on = outage(r, sl_status_str(status));
    } else if (reply->type == REDIS_REPLY_ERROR) {
        sl_log(SL_LOG_ERROR, r->call_id, "limits.script_failed", SL_LOG_STR("script", "admit"),
               SL_LOG_STR("message", reply->str));
        go_on = outage(r, "script error");
    } else {
        sl_limits__set_degraded(0, NULL);
        go_on = read_admission(r, reply);
        if (go_on < 0) {
            sl_log(SL_LOG_ERROR, r->call_id, "limits.bad_reply", SL_LOG_STR("script", "admit"));
            go_on = outage(r, "unexpected reply");
        }
    }
    admission_done(a, go_on);
}

/* Writes the Redis key of `counter` ("req", "tok", "par") for scope `s`. */
int
sl_limits__counter_key(char out[KEY_MAX], const struct sl_redis *redis,
                       const struct sl_limits_scope *s, const char *counter)
{
    const char *parts[] = {"rl:{", sl_limits__scope_names[s->kind], ":", s->id, "}:", counter};

    return sl_redis_key_join(out, KEY_MAX, redis, parts, sizeof(parts) / sizeof(parts[0])) ==
           SL_OK;
}

/* Writes the key of the spend (`kind` "spend") or soft mark ("soft") of the period of `s`
 * that contains `now_ms`, and the seconds it must be kept (0: for ever) into `*ttl_s`. */
int
sl_limits__period_key(char out[KEY_MAX], const struct sl_redis *redis,
                      const struct sl_limits_scope *s, const char *kind, uint64_t now_ms,
                      int64_t *ttl_s)
{
    int64_t start = 0;
    int64_t end = 0;
    char start_text[32];
    const char *parts[] = {kind, ":{", sl_limits__scope_names[s->kind], ":", s->id, "}:",
                           start_text};

    if (s->has_period)
        start = sl_budget_period(&s->period, (int64_t)(now_ms / 1000), &end);
    if (ttl_s != NULL)
        *ttl_s = s->has_period ? end - (int64_t)(now_ms / 1000) + 86400 : 0;
    sl_limits__format_int(start, start_text);
    return sl_redis_key_join(out, KEY_MAX, redis, parts, sizeof(parts) / sizeof(parts[0])) ==
           SL_OK;
}

/* Writes `v` in decimal, as "%lld" does. */
void
sl_limits__format_int(int64_t v, char out[32])
{
    char digits[24];
    size_t n = 0;
    size_t at = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        out[at++] = '-';
    while (n > 0)
        out[at++] = digits[--n];
    out[at] = '\0';
}

/* Writes a budget or soft budget for the scripts: "-1" for NAN (unset), a whole number as
 * "%.17g" would write it but without the float conversion, anything else with "%.17g". */
void
sl_limits__format_number(double v, char out[32])
{
    if (isnan(v)) {
        memcpy(out, "-1", 3);
        return;
    }
    /* Below 2^53 every whole double is exact, and "%.17g" writes it without an exponent. */
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        sl_limits__format_int((int64_t)v, out);
        return;
    }
    snprintf(out, 32, "%.17g", v);
}

double
sl_limits_seed(const struct sl_limits_scope *s, uint64_t now_ms)
{
    int64_t current = 0;

    if (isnan(s->max_budget) && isnan(s->soft_budget))
        return -1.0;
    if (s->has_period)
        current = sl_budget_period(&s->period, (int64_t)(now_ms / 1000), NULL);
    /* PostgreSQL's spend belongs to the current period only once the coordinator moved the
     * budget row into it; until then the period's spend starts from 0. */
    return s->pg_period_start == current || !s->has_period ? s->pg_spend : -1.0;
}

/* Sends admit.lua for `a`. Returns 1 when sent, 0 when Redis could not take it. */
static int
send_admission(struct admission *a)
{
    struct sl_request *r = a->r;
    struct sl_limits *l = r->limits;
    struct sl_redis *redis = r->worker->redis;
    size_t n = l->n;
    /* Every key and number is written before it is read, so neither array is zeroed. */
    char(*keys)[KEY_MAX] = sl_xmalloc((4 * n + 1) * KEY_MAX);
    char(*nums)[32] = sl_xmalloc((7 * n + 4) * 32);
    struct sl_redis_str key_refs[4 * SL_SCOPE_COUNT];
    struct sl_redis_str args[4 + 7 * SL_SCOPE_COUNT];
    uint64_t now = sl_wall_ms();
    enum sl_status rc = SL_ERR_INVALID;

    sl_limits__format_int((int64_t)now, nums[0]);
    sl_limits__format_int((int64_t)slot_ms(&r->worker->gw->cfg), nums[1]);
    sl_limits__format_int((int64_t)n, nums[2]);
    args[0] = SL_REDIS_CSTR(nums[0]);
    args[1] = SL_REDIS_CSTR(l->request_id);
    args[2] = SL_REDIS_CSTR(nums[1]);
    args[3] = SL_REDIS_CSTR(nums[2]);
    for (size_t i = 0; i < n; i++) {
        const struct sl_limits_scope *s = &l->scopes[i];
        char(*v)[32] = nums + 3 + 7 * i;
        int64_t ttl = 0;

        if (!sl_limits__counter_key(keys[4 * i], redis, s, "req") ||
            !sl_limits__counter_key(keys[4 * i + 1], redis, s, "tok") ||
            !sl_limits__counter_key(keys[4 * i + 2], redis, s, "par") ||
            !sl_limits__period_key(keys[4 * i + 3], redis, s, "spend", now, &ttl))
            goto out;
        for (size_t k = 0; k < 4; k++)
            key_refs[4 * i + k] = SL_REDIS_CSTR(keys[4 * i + k]);
        sl_limits__format_int(s->rpm, v[0]);
        sl_limits__format_int(s->tpm, v[1]);
        sl_limits__format_int(s->parallel, v[2]);
        sl_limits__format_number(s->max_budget, v[3]);
        sl_limits__format_number(s->soft_budget, v[4]);
        sl_limits__format_number(sl_limits_seed(s, now), v[5]);
        sl_limits__format_int(ttl, v[6]);
        for (size_t k = 0; k < 7; k++)
            args[4 + 7 * i + k] = SL_REDIS_CSTR(v[k]);
    }
    l->admitted_ms = now;
    a->store_span = sl_trace_store_begin(r, "redis admit");
    rc = sl_redis_eval(redis, r->worker->limits->admit, 4 * n, key_refs, 4 + 7 * n, args,
                       on_admit_reply, a);
out:
    if (rc != SL_OK)
        sl_trace_store_end(r, a->store_span, "redis", sl_status_str(rc));
    free(keys);
    free(nums);
    return rc == SL_OK;
}

/* Runs admission for a request whose scopes are complete. */
static void
admit(struct admission *a)
{
    struct sl_request *r = a->r;
    struct sl_worker *w = r->worker;

    if (!anything_to_check(r->limits)) {
        /* Spend is still owed to every scope. */
        r->limits->admitted = 1;
        r->limits->in_memory = w->redis == NULL;
        admission_done(a, 1);
        return;
    }
    if (w->redis == NULL || w->limits == NULL || w->limits->admit == NULL) {
        admission_done(a, admit_in_memory(r));
        return;
    }
    if (!send_admission(a))
        admission_done(a, outage(r, "Redis is not connected"));
}

/* Adds the scopes that follow the end user's: the model scopes and the global cap. A model
 * group priced at 0 is exempt from every budget. */
static void
finish_scopes(struct admission *a)
{
    struct sl_request *r = a->r;
    struct sl_limits *l = r->limits;
    const struct sl_config *cfg = &r->worker->gw->cfg;

    if (a->has_rec) {
        add_model_scope(l, SL_SCOPE_MODEL_PER_KEY, &a->rec.key_model_limits, a->rec.token,
                        r->model);
        if (a->rec.has_team && a->rec.team_id != NULL)
            add_model_scope(l, SL_SCOPE_MODEL_PER_TEAM, &a->rec.team_model_limits, a->rec.team_id,
                            r->model);
    }
    if (cfg->global_max_parallel_requests >= 0) {
        struct sl_limits_scope *s = add_scope(l, SL_SCOPE_GLOBAL, NULL, "gateway", NULL);

        if (s != NULL)
            s->parallel = cfg->global_max_parallel_requests;
    }
    if (l->free_group)
        for (size_t i = 0; i < l->n; i++)
            l->scopes[i].max_budget = NAN;
}

static void
on_end_user(enum sl_end_user_status status, const struct sl_end_user *eu, void *privdata)
{
    struct admission *a = privdata;
    struct sl_request *r = a->r;
    struct sl_limits_scope *s;

    sl_trace_store_end(r, a->end_user_span, in_end_user_call ? NULL : "postgresql",
                       status == SL_END_USER_UNAVAILABLE ? "unavailable" : NULL);
    if (r->req == NULL) {
        admission_done(a, 0);
        return;
    }
    if (status == SL_END_USER_FOUND) {
        if (eu->blocked) {
            sl_request_respond_error(r, 400, "bad_request_error", "user",
                                     "User blocked from making LLM API Calls. User=%s",
                                     a->end_user);
            admission_done(a, 0);
            return;
        }
        s = add_scope(r->limits, SL_SCOPE_END_USER, &eu->limits, a->end_user, NULL);
        if (s != NULL)
            s->count_spend = 1;
    } else {
        /* Spend of end users without a row is counted too, so a later budget includes it. */
        s = add_scope(r->limits, SL_SCOPE_END_USER, NULL, a->end_user, NULL);
        if (s != NULL)
            s->count_spend = 1;
    }
    finish_scopes(a);
    admit(a);
}

static char *
dup_or_null(const char *s)
{
    return s != NULL ? sl_xstrdup(s) : NULL;
}

/* Copies at most `max` bytes of `len` bytes at `data` into a new NUL-terminated string. */
char *
sl_limits__dup_capped(const char *data, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    char *out = sl_xmalloc(n + 1);

    memcpy(out, data, n);
    out[n] = '\0';
    return out;
}

/* Keeps what the spend event needs from the request and the key's record. */
static void
keep_event_facts(struct sl_request *r, struct sl_limits *l, const struct sl_auth_record *rec)
{
    const struct sl_config *cfg = &r->worker->gw->cfg;
    h2o_req_t *req = r->req;
    struct sockaddr_storage sa;
    socklen_t salen = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&sa);
    char host[NI_MAXHOST];
    const char *ua;
    size_t ua_len;

    if (rec != NULL) {
        l->key_hash = sl_xstrdup(rec->token);
        l->key_alias = dup_or_null(rec->key_alias);
        l->user_email = dup_or_null(rec->user_email);
        l->team_alias = dup_or_null(rec->team_alias);
        l->user_id = dup_or_null(rec->user_id);
        l->team_id = dup_or_null(rec->team_id);
        l->org_id = dup_or_null(rec->org_id);
    }
    if (salen > 0 && h2o_socket_getnumerichost((struct sockaddr *)&sa, salen, host) != SIZE_MAX)
        l->client_ip = sl_xstrdup(host);
    if (header_value(req, "user-agent", &ua, &ua_len))
        l->user_agent = sl_limits__dup_capped(ua, ua_len, UA_MAX);
    if (cfg->store_prompts_in_spend_logs && req->entity.base != NULL)
        l->request_body = sl_limits__dup_capped(req->entity.base, req->entity.len, BODY_MAX);
}

void
sl_limits_begin(struct sl_request *r, const struct sl_auth_record *rec,
                const struct sl_model_group *group, sl_limits_next_cb next, void *privdata)
{
    struct sl_worker *w = r->worker;
    const struct sl_config *cfg = &w->gw->cfg;
    struct sl_limits *l;
    struct admission *a;
    const char *end_user = NULL;
    size_t end_user_len = 0;
    int has_end_user = find_end_user(r, cfg, &end_user, &end_user_len);

    if (has_end_user && end_user_len > SL_END_USER_ID_MAX) {
        sl_request_respond_error(r, 400, "invalid_request_error", "user",
                                 "The end-user id is %zu bytes long; the limit is %d bytes.",
                                 end_user_len, SL_END_USER_ID_MAX);
        return;
    }

    l = sl_xcalloc(1, sizeof(*l));
    r->limits = l;
    snprintf(l->request_id, sizeof(l->request_id), "%s", r->call_id);
    l->free_group = group_is_free(group);
    keep_event_facts(r, l, rec);
    if (has_end_user)
        l->end_user = sl_limits__dup_capped(end_user, end_user_len, SL_END_USER_ID_MAX);

    /* The master key without an end user or a global cap has no scope: only its spend event
     * is owed. */
    if (rec == NULL && !has_end_user && cfg->global_max_parallel_requests < 0) {
        l->admitted = 1;
        next(r, rec, privdata);
        return;
    }

    a = sl_xcalloc(1, sizeof(*a));
    a->store_span = -1;
    a->end_user_span = -1;
    a->r = r;
    a->next = next;
    a->privdata = privdata;
    if (rec != NULL) {
        sl_auth_record_copy(&a->rec, rec);
        a->has_rec = 1;
        add_key_scopes(l, cfg, rec);
    }
    sl_request_retain(r);
    if (!has_end_user) {
        finish_scopes(a);
        admit(a);
        return;
    }
    memcpy(a->end_user, end_user, end_user_len);
    a->end_user[end_user_len] = '\0';
    if (w->gw->have_database && w->pg != NULL) {
        a->end_user_span = sl_trace_store_begin(r, "end user lookup");
        in_end_user_call = 1;
        sl_end_user_lookup(w, a->end_user, end_user_len, on_end_user, a);
        in_end_user_call = 0;
        return;
    }
    on_end_user(SL_END_USER_NOT_FOUND, NULL, a);
}

/* ---------------------------------------------------------------- per worker */

static struct sl_redis_script *
load_script(const char *name)
{
    const struct sl_lua_script *src = sl_lua_script_find(name);

    if (src == NULL) {
        sl_log(SL_LOG_ERROR, NULL, "limits.script_missing", SL_LOG_STR("script", name));
        return NULL;
    }
    return sl_redis_script_load(src->name, src->source, src->len);
}

void
sl_limits_worker_init(struct sl_worker *w)
{
    w->limits = sl_xcalloc(1, sizeof(*w->limits));
    if (w->redis == NULL)
        return;
    w->limits->admit = load_script("admit");
    w->limits->settle = load_script("settle");
}

void
sl_limits_worker_dispose(struct sl_worker *w)
{
    if (w->limits == NULL)
        return;
    if (w->limits->admit != NULL)
        sl_redis_script_destroy(w->limits->admit);
    if (w->limits->settle != NULL)
        sl_redis_script_destroy(w->limits->settle);
    free(w->limits);
    w->limits = NULL;
}
