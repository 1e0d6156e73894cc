/* SPDX-License-Identifier: Apache-2.0 */
/*
 * failover -- retries within a model group and fallbacks to other groups (see failover.h).
 *
 * The order follows LiteLLM's router. A failed call is retried within its group up to
 * num_retries times, or as many times as the group's retry policy gives the error's class,
 * each retry on a deployment not yet tried when one is left. Then the fallback groups of the
 * group the client named are tried in order, each with its own retries. With pre-call checks
 * on, a group is first cut down to the deployments whose context window fits the request.
 * A group is tried at most once per request, so fallback lists that name each other cannot
 * loop. The next attempt always starts from a timer on the worker's loop, never from inside
 * the curl callback that reported the failure.
 *
 * Every failed call is reported to router/cooldown.h, and every choice of a deployment here
 * leaves out those cooling down. A group whose every deployment is cooling down is skipped
 * for its fallbacks; when none is left the client gets LiteLLM's 429 "No deployments
 * available" with retry-after.
 */
#define SL_LOG_MODULE "failover"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "gateway/auth/keys.h"
#include "gateway/gateway.h"
#include "gateway/http/failover.h"
#include "gateway/http/handlers.h"
#include "gateway/http/pipeline.h"
#include "gateway/http/request.h"
#include "gateway/health/state.h"
#include "gateway/router/cooldown.h"
#include "gateway/router/live.h"
#include "gateway/router/precall.h"
#include "gateway/router/router.h"
#include "gateway/router/strategy.h"
#include "gateway/router/wildcard.h"
#include "gateway/worker.h"

/* Deployments remembered as tried within one group; more are retried at random. */
#define SL_FAILOVER_MAX_TRIED 32u
/* Entries of a request's own fallbacks list that are read; the rest are ignored. */
#define SL_FAILOVER_MAX_REQUEST_FALLBACKS 16
/* A request's num_retries above this is rejected (the config's own bound). */
#define SL_FAILOVER_MAX_RETRIES 100

struct sl_failover {
    const struct sl_router *router;      /* pinned to the h2o request by the handler */
    const struct sl_model_group *group;  /* the group of the current attempt */
    const char *primary;                 /* the group the client named; borrowed from router */
    struct sl_auth_record rec;
    int has_rec;
    int64_t request_retries;             /* the body's num_retries, or -1 */
    unsigned retries_max;                /* in the current group, unless a policy sets one */
    unsigned retries_in_group;           /* done in the current group */
    const struct sl_deployment *tried[SL_FAILOVER_MAX_TRIED];
    size_t n_tried;
    struct sl_strlist tried_groups;      /* owned copies: the names survive a config reload */
    struct sl_strlist request_fallbacks; /* the body's own list */
    unsigned fallbacks_used;
    int starting; /* in sl_failover_begin(): a fallback replaces the first pick, no timer */

    /* Pre-call checks: the request's estimated input tokens, and the groups cut down to the
     * deployments whose context window fits it (owned arrays, one per group tried). */
    uint64_t input_tokens;
    struct sl_model_group **fitted;
    size_t n_fitted;

    /* Fallback groups built from a wildcard pattern for a fallback target (owned). */
    struct sl_wildcard_group **wildcards;
    size_t n_wildcards;
};

/* A pending attempt; the timer holds a reference on the request. */
struct attempt_timer {
    uv_timer_t timer;
    struct sl_request *r;
};

/* ---------------------------------------------------------------- pure parts */

static int
contains_nocase(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);

    for (const char *p = haystack; *p != '\0'; p++)
        if (strncasecmp(p, needle, n) == 0)
            return 1;
    return 0;
}

static int
is_context_window_error(const struct sl_upstream_error *e)
{
    static const char *const marks[] = {"context_length_exceeded", "context window",
                                        "maximum context length", "prompt is too long",
                                        "input is too long", "too many tokens"};

    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
        if (contains_nocase(e->type, marks[i]) || contains_nocase(e->message, marks[i]))
            return 1;
    return 0;
}

static int
is_content_policy_error(const struct sl_upstream_error *e)
{
    static const char *const marks[] = {"content_policy_violation", "content_filter",
                                        "content management policy", "responsibleaipolicy"};

    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
        if (contains_nocase(e->type, marks[i]) || contains_nocase(e->message, marks[i]))
            return 1;
    return 0;
}

enum sl_failover_class
sl_failover_classify(const struct sl_upstream_error *e)
{
    int s = e->status;

    if (s == 408 || s == 409 || s == 429 || s >= 500)
        return SL_FAILOVER_RETRY;
    if (s == 401 || s == 403)
        return SL_FAILOVER_AUTH;
    if (s == 400 || s == 413 || s == 422) {
        if (is_content_policy_error(e))
            return SL_FAILOVER_CONTENT_POLICY;
        if (is_context_window_error(e))
            return SL_FAILOVER_CONTEXT_WINDOW;
    }
    return SL_FAILOVER_FINAL;
}

enum sl_error_class
sl_failover_error_class(const struct sl_upstream_error *e)
{
    int s = e->status;

    if (s == 408)
        return SL_ERROR_TIMEOUT;
    if (s == 429)
        return SL_ERROR_RATE_LIMIT;
    if (s == 401 || s == 403)
        return SL_ERROR_AUTHENTICATION;
    if (s == 409 || s >= 500)
        return SL_ERROR_INTERNAL_SERVER;
    if (sl_failover_classify(e) == SL_FAILOVER_CONTENT_POLICY)
        return SL_ERROR_CONTENT_POLICY;
    return SL_ERROR_BAD_REQUEST;
}

int64_t
sl_failover_policy_retries(const struct sl_config *cfg, const char *group,
                           enum sl_error_class cls)
{
    const struct sl_error_policy *policy = sl_config_retry_policy(cfg, group);
    int64_t n = policy->counts[cls];

    if (n < 0 && cls == SL_ERROR_CONTENT_POLICY)
        n = policy->counts[SL_ERROR_BAD_REQUEST];
    return n >= 0 ? n : -1;
}

int
sl_failover_parse_retry_after(const char *value, int ms, double *seconds)
{
    char *end = NULL;
    double v;

    if (value == NULL)
        return 0;
    while (*value == ' ')
        value++;
    if (*value < '0' || *value > '9')
        return 0; /* a negative number, an HTTP date or nothing */
    v = strtod(value, &end);
    while (end != NULL && *end == ' ')
        end++;
    if (end == NULL || *end != '\0' || !isfinite(v))
        return 0;
    *seconds = ms ? v / 1000.0 : v;
    return 1;
}

uint64_t
sl_failover_backoff_ms(unsigned retry, double retry_after_s, double min_wait_s,
                       int other_deployment, uint64_t cap_ms)
{
    double wait_s;

    /* NOTE: LiteLLM adds up to 0.75 s of random jitter to this wait; none is added here. */
    if (other_deployment)
        return 0;
    if (!isnan(retry_after_s) && retry_after_s > 0) {
        wait_s = retry_after_s;
    } else {
        wait_s = retry >= 4 ? 8.0 : 0.5 * (double)(1u << retry);
        if (!isnan(min_wait_s) && min_wait_s > wait_s)
            wait_s = min_wait_s;
    }
    if (wait_s * 1000.0 >= (double)cap_ms)
        return cap_ms;
    return (uint64_t)(wait_s * 1000.0);
}

static const struct sl_fallbacks *
choose_fallbacks(const struct sl_fallbacks *router, const struct sl_fallbacks *litellm)
{
    return router->n > 0 ? router : litellm;
}

/* Returns the targets of `group` in `list`, else those of its "*" entry. */
static size_t
entry_targets(const struct sl_fallbacks *list, const char *group, char *const **out)
{
    const struct sl_fallback *star = NULL;

    for (size_t i = 0; i < list->n; i++) {
        if (strcmp(list->items[i].group, group) == 0) {
            *out = list->items[i].targets.items;
            return list->items[i].targets.n;
        }
        if (star == NULL && strcmp(list->items[i].group, "*") == 0)
            star = &list->items[i];
    }
    if (star == NULL)
        return 0;
    *out = star->targets.items;
    return star->targets.n;
}

size_t
sl_failover_targets(const struct sl_config *cfg, const struct sl_strlist *request_list,
                    enum sl_failover_class cls, const char *group, char *const **out)
{
    const struct sl_strlist *defaults;
    size_t n;

    /* NOTE: LiteLLM sends a content policy or context window error to the general fallbacks
     * when its own list has no entry; here such an error only ever takes its own list. */
    switch (cls) {
    case SL_FAILOVER_FINAL:
        return 0;
    case SL_FAILOVER_CONTENT_POLICY:
        return entry_targets(choose_fallbacks(&cfg->router_content_policy_fallbacks,
                                              &cfg->content_policy_fallbacks),
                             group, out);
    case SL_FAILOVER_CONTEXT_WINDOW:
        return entry_targets(choose_fallbacks(&cfg->router_context_window_fallbacks,
                                              &cfg->context_window_fallbacks),
                             group, out);
    case SL_FAILOVER_RETRY:
    case SL_FAILOVER_AUTH:
        break;
    }
    if (request_list != NULL && request_list->n > 0) {
        *out = request_list->items;
        return request_list->n;
    }
    n = entry_targets(choose_fallbacks(&cfg->router_fallbacks, &cfg->fallbacks), group, out);
    if (n > 0)
        return n;
    defaults = cfg->router_default_fallbacks.n > 0 ? &cfg->router_default_fallbacks
                                                   : &cfg->default_fallbacks;
    *out = defaults->items;
    return defaults->n;
}

static int
strlist_has(const struct sl_strlist *list, const char *s)
{
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(list->items[i], s) == 0)
            return 1;
    return 0;
}

static void
strlist_add(struct sl_strlist *list, const char *s)
{
    list->items = sl_xrealloc(list->items, (list->n + 1) * sizeof(char *));
    list->items[list->n++] = sl_xstrdup(s);
}

static void
strlist_clear(struct sl_strlist *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

const char *
sl_failover_next_target(char *const *targets, size_t n, const struct sl_strlist *tried)
{
    for (size_t i = 0; i < n; i++)
        if (!strlist_has(tried, targets[i]))
            return targets[i];
    return NULL;
}

/* ---------------------------------------------------------------- per request */

/* The retries a group gets: the request's num_retries, else the first deployment's, else
 * router_settings.num_retries, else litellm_settings.num_retries (default 2). */
static unsigned
retries_for(const struct sl_failover *f, const struct sl_config *cfg,
            const struct sl_deployment *first)
{
    if (f->request_retries >= 0)
        return (unsigned)f->request_retries;
    if (first != NULL && first->num_retries >= 0)
        return (unsigned)first->num_retries;
    if (cfg->router_num_retries >= 0)
        return (unsigned)cfg->router_num_retries;
    return cfg->num_retries >= 0 ? (unsigned)cfg->num_retries : 2u;
}

/* Reads the body's fallbacks: model names, or objects with a "model" (their other fields,
 * which LiteLLM merges into the fallback call, are ignored). Returns 0 for any other shape. */
static int
read_request_fallbacks(const cJSON *list, struct sl_strlist *out)
{
    const cJSON *item;
    int count = 0;

    if (!cJSON_IsArray(list))
        return 0;
    cJSON_ArrayForEach(item, list) {
        const char *name = cJSON_IsString(item) ? item->valuestring
                                                : sl_json_get_string(item, "model");

        if (name == NULL || name[0] == '\0')
            return 0;
        if (++count > SL_FAILOVER_MAX_REQUEST_FALLBACKS)
            break;
        strlist_add(out, name);
    }
    return 1;
}

static int
is_ready(const struct sl_deployment *d, void *arg)
{
    return !sl_cooldown_active(arg, d) && sl_health_usable(arg, d);
}

/* Picks a deployment of `g` by the routing strategy (router/strategy.h) among those that are
 * not cooling down, not at their in-flight cap and not among the `n_skip` of `skip`. */
static const struct sl_deployment *
pick_ready(struct sl_request *r, const struct sl_model_group *g,
           const struct sl_deployment *const *skip, size_t n_skip)
{
    return sl_strategy_pick(r->worker, g, skip, n_skip, is_ready, r->worker);
}

static int try_fallback(struct sl_request *r, enum sl_failover_class cls);

/*
 * Returns `g` cut down to the deployments whose context window fits the request: `g` itself
 * when the pre-call checks are off or every deployment fits, a group owned by the failover
 * state when some do, NULL when none does.
 */
static const struct sl_model_group *
fit_group(struct sl_request *r, const struct sl_model_group *g)
{
    struct sl_failover *f = r->failover;
    struct sl_model_group cut;
    size_t n;

    if (!r->worker->gw->cfg.enable_pre_call_checks)
        return g;
    n = sl_precall_filter(g, f->input_tokens, &cut);
    if (n == 0) {
        sl_log(SL_LOG_INFO, r->call_id, "failover.context_window",
               SL_LOG_STR("model_group", g->name),
               SL_LOG_INT("input_tokens", (int64_t)f->input_tokens),
               SL_LOG_INT("max_input_tokens", sl_precall_largest_window(g)));
        return NULL;
    }
    if (cut.deployments == g->deployments)
        return g;
    f->fitted = sl_xrealloc(f->fitted, (f->n_fitted + 1) * sizeof(*f->fitted));
    f->fitted[f->n_fitted] = sl_xmalloc(sizeof(cut));
    *f->fitted[f->n_fitted] = cut;
    return f->fitted[f->n_fitted++];
}

/* Responds 400 for a request larger than every context window of `g` when no
 * context_window_fallbacks group takes it. */
static void
respond_context_window(struct sl_request *r, const struct sl_model_group *g)
{
    sl_request_respond_error(r, 400, "invalid_request_error", "messages",
                             "Context window exceeded: the request has about %llu input tokens "
                             "(estimated as bytes of text / %u), more than the max_input_tokens "
                             "of every deployment of model group \"%s\" (largest: %lld). "
                             "Shorten the request, or configure context_window_fallbacks.",
                             (unsigned long long)r->failover->input_tokens,
                             SL_PRECALL_BYTES_PER_TOKEN, g->name,
                             (long long)sl_precall_largest_window(g));
}

/* Applies the pre-call context-window check to the first group. Returns the group that `r`
 * goes on with, a fallback group when none of `group` fits, or NULL once the client got a
 * 400. */
static const struct sl_model_group *
check_context_window(struct sl_request *r, const struct sl_model_group *group)
{
    struct sl_failover *f = r->failover;
    const struct sl_model_group *fitted;

    if (!r->worker->gw->cfg.enable_pre_call_checks)
        return group;
    f->input_tokens = sl_precall_estimate_tokens(r->body);
    fitted = fit_group(r, group);
    if (fitted == NULL) {
        if (try_fallback(r, SL_FAILOVER_CONTEXT_WINDOW))
            return f->group;
        respond_context_window(r, group);
        return NULL;
    }
    f->group = fitted;
    if (r->deployment != NULL && !sl_precall_fits(r->deployment, f->input_tokens))
        r->deployment = pick_ready(r, fitted, NULL, 0);
    return fitted;
}

/* Responds 429 for `g`, whose every deployment is cooling down or at its in-flight cap, with
 * retry-after set to the seconds until the first cooling one returns (1 when none is cooling).
 * The message gives cooldown_time, as LiteLLM's does. */
static void
respond_all_cooling(struct sl_request *r, const struct sl_model_group *g)
{
    const char *ids[SL_COOLDOWN_MAX_LISTED];
    size_t n_ids = 0;
    uint64_t wait_ms = sl_cooldown_group_wait_ms(r->worker, g, ids, &n_ids);
    uint64_t wait_s = (wait_ms + 999) / 1000;
    uint64_t shown_s;
    struct sl_buf msg;
    char header[24];

    snprintf(header, sizeof(header), "%llu", (unsigned long long)(wait_s > 0 ? wait_s : 1));
    sl_buf_init(&msg, 0);
    /* LiteLLM's message gives cooldown_time; a cooldown lengthened by the provider's
     * retry-after would make that number a lie, so the longer wait is given then. */
    shown_s = (uint64_t)r->worker->gw->cfg.cooldown_time_s;
    if (wait_s > shown_s)
        shown_s = wait_s;
    sl_cooldown_message(&msg, g->name, shown_s, ids, n_ids);
    sl_log(SL_LOG_WARN, r->call_id, "failover.all_cooling", SL_LOG_STR("model_group", g->name),
           SL_LOG_INT("retry_after_s", (int64_t)(wait_s > 0 ? wait_s : 1)));
    sl_request_add_header(r, "retry-after", header);
    sl_request_respond_error(r, 429, sl_errors_default_type(429), NULL, "%s", msg.data);
    sl_buf_dispose(&msg);
}

/* Replaces the first pick of `r` when it is cooling down or failed its health check, or picks
 * one when the first pick found none (every deployment at its in-flight cap or cooling down).
 * Returns 1 when `r` goes on with a ready deployment, of `group` or of a fallback group; 0 when
 * the client got a 429. */
static int
avoid_cooling(struct sl_request *r, const struct sl_model_group *group)
{
    const struct sl_deployment *next;

    if (r->deployment != NULL && is_ready(r->deployment, r->worker))
        return 1;
    next = pick_ready(r, group, NULL, 0);
    if (next != NULL) {
        r->deployment = next;
        return 1;
    }
    /* Unhealthy but not cooling down, while every other deployment is cooling down. */
    if (r->deployment != NULL && !sl_cooldown_active(r->worker, r->deployment))
        return 1;
    if (try_fallback(r, SL_FAILOVER_RETRY))
        return 1;
    respond_all_cooling(r, group);
    return 0;
}

int
sl_failover_begin(struct sl_request *r, const struct sl_auth_record *rec,
                  const struct sl_model_group *group)
{
    struct sl_failover *f = sl_xcalloc(1, sizeof(*f));
    const cJSON *retries = cJSON_GetObjectItemCaseSensitive(r->body, "num_retries");
    const cJSON *fallbacks = cJSON_GetObjectItemCaseSensitive(r->body, "fallbacks");
    int ok;

    r->failover = f;
    f->router = sl_router_live_current(r->worker);
    f->group = group;
    f->primary = group->name;
    f->request_retries = -1;
    if (rec != NULL) {
        sl_auth_record_copy(&f->rec, rec);
        f->has_rec = 1;
    }
    strlist_add(&f->tried_groups, group->name);

    if (retries != NULL) {
        if (!cJSON_IsNumber(retries) || retries->valuedouble < 0 ||
            retries->valuedouble > SL_FAILOVER_MAX_RETRIES) {
            sl_request_respond_error(r, 400, "invalid_request_error", "num_retries",
                                     "num_retries must be a whole number from 0 to %d.",
                                     SL_FAILOVER_MAX_RETRIES);
            return 0;
        }
        f->request_retries = (int64_t)retries->valuedouble;
    }
    if (fallbacks != NULL && !cJSON_IsNull(fallbacks) &&
        !read_request_fallbacks(fallbacks, &f->request_fallbacks)) {
        sl_request_respond_error(r, 400, "invalid_request_error", "fallbacks",
                                 "fallbacks must be a list of model group names, e.g. "
                                 "[\"gpt-4o-mini\"].");
        return 0;
    }
    f->retries_max = retries_for(f, &r->worker->gw->cfg, r->deployment);

    /* The provider must not see the gateway's own parameters: build from the parsed body. */
    if (retries != NULL || fallbacks != NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(r->body, "num_retries");
        cJSON_DeleteItemFromObjectCaseSensitive(r->body, "fallbacks");
        r->ctx.raw_body = NULL;
        r->ctx.raw_len = 0;
    }
    f->starting = 1;
    group = check_context_window(r, group);
    ok = group != NULL && avoid_cooling(r, group);
    f->starting = 0;
    return ok;
}

const char *
sl_failover_group_name(const struct sl_request *r)
{
    return r->failover != NULL ? r->failover->group->name : r->model;
}

void
sl_failover_free(struct sl_failover *f)
{
    if (f == NULL)
        return;
    if (f->has_rec)
        sl_auth_record_dispose(&f->rec);
    strlist_clear(&f->tried_groups);
    strlist_clear(&f->request_fallbacks);
    for (size_t i = 0; i < f->n_fitted; i++) {
        free((void *)f->fitted[i]->deployments);
        free(f->fitted[i]);
    }
    free(f->fitted);
    for (size_t i = 0; i < f->n_wildcards; i++)
        sl_wildcard_group_destroy(f->wildcards[i]);
    free(f->wildcards);
    free(f);
}

/* Clears what one attempt left on the request, so that the next starts as the first did. */
static void
reset_attempt(struct sl_request *r)
{
    if (r->decoder_ready) {
        sl_decoder_dispose(&r->decoder);
        r->decoder_ready = 0;
    }
    if (r->st.family != NULL && r->st.family_free != NULL)
        r->st.family_free(r->st.family);
    memset(&r->st, 0, sizeof(r->st));
    if (r->format_state != NULL && r->format->free_state != NULL)
        r->format->free_state(r->format_state);
    r->format_state = NULL;
    if (r->original != NULL) {
        /* The body was converted for the last family; the next may want another form. */
        cJSON_Delete(r->body);
        r->body = r->original;
        r->original = NULL;
        r->ctx.body = r->body;
    }
    memset(&r->usage, 0, sizeof(r->usage));
}

static void
on_timer_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static void
on_attempt_timer(uv_timer_t *timer)
{
    struct attempt_timer *t = timer->data;
    struct sl_request *r = t->r;

    uv_close((uv_handle_t *)timer, on_timer_closed);
    /* A client that left during the wait gets no response. */
    if (r->req != NULL) {
        reset_attempt(r);
        sl_relay_start(r);
    }
    sl_request_release(r);
}

static void
schedule(struct sl_request *r, const struct sl_deployment *next, uint64_t delay_ms)
{
    struct attempt_timer *t = sl_xcalloc(1, sizeof(*t));

    r->deployment = next;
    t->r = r;
    sl_request_retain(r);
    uv_timer_init(&r->worker->loop, &t->timer);
    t->timer.data = t;
    uv_timer_start(&t->timer, on_attempt_timer, delay_ms, 0);
}

/* The provider's retry-after (or retry-after-ms) in seconds, NAN when absent. */
static double
retry_after_of(const struct sl_call *call)
{
    size_t pos = 0;
    const char *name;
    const char *value;
    double s = NAN;
    double v;

    while (call != NULL && sl_call_next_header(call, &pos, &name, &value)) {
        if (strcmp(name, "retry-after-ms") == 0 && sl_failover_parse_retry_after(value, 1, &v))
            return v;
        if (strcmp(name, "retry-after") == 0 && sl_failover_parse_retry_after(value, 0, &v))
            s = v;
    }
    return s;
}

static int
is_tried(const struct sl_failover *f, const struct sl_deployment *d)
{
    for (size_t i = 0; i < f->n_tried; i++)
        if (f->tried[i] == d)
            return 1;
    return 0;
}

static void
remember_tried(struct sl_failover *f, const struct sl_deployment *d)
{
    if (is_tried(f, d))
        return;
    if (f->n_tried < SL_FAILOVER_MAX_TRIED)
        f->tried[f->n_tried++] = d;
}

/* Returns 1 when model_group_retry_policy has an entry for `group`. */
static int
has_group_policy(const struct sl_config *cfg, const char *group)
{
    for (size_t i = 0; i < cfg->model_group_retry_policy.n; i++)
        if (strcmp(cfg->model_group_retry_policy.items[i].group, group) == 0)
            return 1;
    return 0;
}

/* Returns the group name whose model_group_retry_policy entry applies to the current group:
 * its own, else, for a group built from a wildcard pattern, the pattern's. */
static const char *
policy_group(const struct sl_request *r, const struct sl_config *cfg)
{
    const struct sl_failover *f = r->failover;
    const char *name = f->group->name;

    if (has_group_policy(cfg, name))
        return name;
    /* A group cut down by the pre-call check shares its name pointer with the group it came
     * from, so comparing pointers finds the wildcard group behind either. */
    if (r->wildcard != NULL && r->wildcard->group.name == name)
        return r->wildcard->pattern;
    for (size_t i = 0; i < f->n_wildcards; i++)
        if (f->wildcards[i]->group.name == name)
            return f->wildcards[i]->pattern;
    return name;
}

/*
 * Returns the retries allowed in the current group after an error of classes `cls` and
 * `ecls`: the group's retry policy for `ecls` when it names one (`*explicit` set), else the
 * group's count for errors worth a retry, else 0.
 */
static unsigned
retry_limit(const struct sl_request *r, const struct sl_config *cfg, enum sl_failover_class cls,
            enum sl_error_class ecls, int *explicit)
{
    const struct sl_failover *f = r->failover;
    int64_t n = sl_failover_policy_retries(cfg, policy_group(r, cfg), ecls);

    *explicit = n >= 0;
    if (n >= 0)
        return (unsigned)n;
    return cls == SL_FAILOVER_RETRY || cls == SL_FAILOVER_AUTH ? f->retries_max : 0;
}

/* Schedules a retry within the current group, at most `limit` per group. `explicit`: a retry
 * policy allows the retry, so the same deployment may be tried again whatever the error.
 * Returns 0 when no retry is allowed. */
static int
try_retry(struct sl_request *r, enum sl_failover_class cls, unsigned limit, int explicit,
          const struct sl_call *call)
{
    struct sl_failover *f = r->failover;
    const struct sl_config *cfg = &r->worker->gw->cfg;
    const struct sl_deployment *next;
    uint64_t cap_ms;
    uint64_t delay_ms;

    if (f->retries_in_group >= limit)
        return 0;
    next = pick_ready(r, f->group, f->tried, f->n_tried);
    if (next == NULL) {
        /* Wrong credentials stay wrong, so only another deployment may help, unless the
         * operator's retry policy sets a count for them. */
        if (cls == SL_FAILOVER_AUTH && !explicit)
            return 0;
        next = pick_ready(r, f->group, NULL, 0);
        if (next == NULL)
            return 0; /* every deployment is cooling down: on to the fallbacks */
    }

    cap_ms = (uint64_t)(sl_config_timeout_s(cfg, next) * 1000.0);
    if (cap_ms > SL_FAILOVER_MAX_WAIT_MS)
        cap_ms = SL_FAILOVER_MAX_WAIT_MS;
    delay_ms = sl_failover_backoff_ms(f->retries_in_group, retry_after_of(call),
                                      cfg->retry_after_s, !is_tried(f, next),
                                      cap_ms);
    f->retries_in_group++;
    r->attempted_retries++;
    sl_log(SL_LOG_WARN, r->call_id, "failover.retry", SL_LOG_STR("model_group", f->group->name),
           SL_LOG_STR("failed_model_id", r->deployment->id), SL_LOG_STR("model_id", next->id),
           SL_LOG_INT("retries_left", (int64_t)(limit - f->retries_in_group)),
           SL_LOG_INT("delay_ms", (int64_t)delay_ms));
    schedule(r, next, delay_ms);
    return 1;
}

/* Returns the fallback group `name`: the group of that name, else one built from a wildcard
 * pattern and owned by the failover state, else NULL. */
static const struct sl_model_group *
find_fallback_group(struct sl_request *r, const char *name)
{
    struct sl_failover *f = r->failover;
    struct sl_wildcard_group *owned = NULL;
    struct sl_errbuf err;
    const struct sl_model_group *g = sl_wildcard_resolve(f->router, name, &owned, &err);

    if (g == NULL && err.msg[0] != '\0')
        sl_log(SL_LOG_WARN, r->call_id, "failover.skipped", SL_LOG_STR("model_group", name),
               SL_LOG_STR("reason", err.msg));
    if (owned != NULL) {
        f->wildcards = sl_xrealloc(f->wildcards, (f->n_wildcards + 1) * sizeof(*f->wildcards));
        f->wildcards[f->n_wildcards++] = owned;
    }
    return g;
}

/* Schedules the first attempt of the next fallback group. Returns 0 when none is left. */
static int
try_fallback(struct sl_request *r, enum sl_failover_class cls)
{
    struct sl_failover *f = r->failover;
    const struct sl_config *cfg = &r->worker->gw->cfg;
    char *const *targets = NULL;
    size_t n = sl_failover_targets(cfg, &f->request_fallbacks, cls, f->primary, &targets);
    const char *name;

    while (f->fallbacks_used < SL_FAILOVER_MAX_FALLBACKS) {
        const struct sl_model_group *g;
        const struct sl_deployment *first;

        name = sl_failover_next_target(targets, n, &f->tried_groups);
        if (name == NULL)
            return 0;
        strlist_add(&f->tried_groups, name);
        g = find_fallback_group(r, name);
        if (g == NULL || g->n == 0) {
            sl_log(SL_LOG_WARN, r->call_id, "failover.skipped", SL_LOG_STR("model_group", name),
                   SL_LOG_STR("reason", "no such model group"));
            continue;
        }
        if (!sl_http_model_allowed(f->has_rec ? &f->rec : NULL, name, g)) {
            sl_log(SL_LOG_INFO, r->call_id, "failover.skipped", SL_LOG_STR("model_group", name),
                   SL_LOG_STR("reason", "the key may not use this model group"));
            continue;
        }

        g = fit_group(r, g);
        if (g == NULL) {
            sl_log(SL_LOG_INFO, r->call_id, "failover.skipped", SL_LOG_STR("model_group", name),
                   SL_LOG_STR("reason", "no deployment's context window fits the request"));
            continue;
        }
        first = pick_ready(r, g, NULL, 0);
        if (first == NULL) {
            sl_log(SL_LOG_WARN, r->call_id, "failover.skipped", SL_LOG_STR("model_group", name),
                   SL_LOG_STR("reason", "every deployment is cooling down or at its cap"));
            continue;
        }
        f->group = g;
        f->n_tried = 0;
        f->retries_in_group = 0;
        f->retries_max = retries_for(f, cfg, first);
        f->fallbacks_used++;
        r->attempted_fallbacks++;
        sl_log(SL_LOG_WARN, r->call_id, "failover.fallback", SL_LOG_STR("from", f->primary),
               SL_LOG_STR("model_group", name), SL_LOG_STR("model_id", first->id));
        /* Before the first call, the fallback simply replaces the first pick, so the
         * request still goes through admission and the cache lookup like any other. */
        if (f->starting)
            r->deployment = first;
        else
            schedule(r, first, 0);
        return 1;
    }
    return 0;
}

int
sl_failover_try(struct sl_request *r, const struct sl_upstream_error *e,
                const struct sl_call *call)
{
    struct sl_failover *f = r->failover;
    const struct sl_deployment *failed;
    enum sl_failover_class cls;
    enum sl_error_class ecls;
    unsigned limit;
    int explicit;

    ecls = sl_failover_error_class(e);
    if (r->req != NULL && r->deployment != NULL)
        sl_cooldown_report(r->worker, f != NULL ? f->group : NULL, r->deployment, e, ecls,
                           retry_after_of(call));
    if (f == NULL || r->req == NULL || r->started || r->worker->draining)
        return 0;
    cls = sl_failover_classify(e);
    limit = retry_limit(r, &r->worker->gw->cfg, cls, ecls, &explicit);

    remember_tried(f, r->deployment);
    if (try_retry(r, cls, limit, explicit, call))
        return 1;
    if (cls == SL_FAILOVER_FINAL)
        return 0;
    failed = r->deployment;
    if (!try_fallback(r, cls))
        return 0;
    /* The fallback metrics name the error that sent the request to its first fallback. */
    if (r->fallback_error_status == 0) {
        r->fallback_error_status = e->status;
        r->fallback_error_provider = failed->provider;
    }
    return 1;
}

const struct sl_model_group *
sl_failover_group(const struct sl_request *r)
{
    return r->failover != NULL ? r->failover->group : NULL;
}

size_t
sl_failover_tried(const struct sl_request *r, const struct sl_deployment *const **out)
{
    if (r->failover == NULL) {
        *out = NULL;
        return 0;
    }
    *out = r->failover->tried;
    return r->failover->n_tried;
}

int
sl_failover_ready(const struct sl_deployment *d, void *worker)
{
    return is_ready(d, worker);
}

int
sl_failover_try_fallback(struct sl_request *r)
{
    if (r->failover == NULL || r->req == NULL || r->started || r->worker->draining)
        return 0;
    return try_fallback(r, SL_FAILOVER_RETRY);
}
