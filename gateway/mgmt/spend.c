/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spend -- the spend reporting routes: /spend/logs, /spend/logs/v2 and the /global/spend
 * routes, read from spend_logs in LiteLLM's response shapes. sluice-coordinator writes the rows.
 *
 * proxy_admin and proxy_admin_viewer see every row. internal_user and internal_user_viewer may
 * call /spend/logs, /spend/logs/v2, /global/spend/keys and /global/spend/models and see only
 * rows charged to their user or made with their keys. docs/spend.md lists the differences
 * from LiteLLM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/http/request.h"
#include "gateway/mgmt/routes.h"
#include "gateway/mgmt/spend_sql.h"

/* Default and maximum page_size of /spend/logs and /spend/logs/v2. */
#define SPEND_PAGE_SIZE_DEFAULT 100L
#define SPEND_PAGE_SIZE_MAX     1000L
/* Highest page number; it keeps the row offset far from overflow. */
#define SPEND_PAGE_MAX 1000000L
/* Maximum date range of a daily summary (about 10 years), which bounds its size. */
#define SPEND_SUMMARY_MAX_DAYS 3660L
/* Maximum keys or models one /global/spend/keys or /global/spend/models call returns. */
#define SPEND_TOP_MAX 1000L
/* Length of a normalized timestamp: "YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM". */
#define SPEND_TIME_MAX 40

/* The query parameters of one call, owned. */
struct spend_params {
    char *api_key;
    char *user_id;
    char *team_id;
    char *request_id;
    char *end_user;
    char *start_date;
    char *end_date;
    char key_hash[SL_MGMT_HASH_LEN + 1];
    char start[SPEND_TIME_MAX + 1];
    char end[SPEND_TIME_MAX + 1];
    int end_is_date;
    long days; /* days from start to end, when both are set */
};

static void
params_dispose(struct spend_params *p)
{
    free(p->api_key);
    free(p->user_id);
    free(p->team_id);
    free(p->request_id);
    free(p->end_user);
    free(p->start_date);
    free(p->end_date);
}

/* ---------------------------------------------------------------- dates */

/* Reads exactly `n` digits at `*s` into `*out` and moves `*s` past them. */
static int
read_digits(const char **s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if ((*s)[i] < '0' || (*s)[i] > '9')
            return 0;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return 1;
}

static int
days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static long
days_from_civil(int year, int month, int day)
{
    long y = month <= 2 ? year - 1 : year;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

/*
 * Parses "YYYY-MM-DD" or an ISO 8601 date and time ("YYYY-MM-DDTHH:MM[:SS[.ffffff]]", 'T' or
 * a space, then "Z", "+HH:MM" or "-HH:MM"; no zone means UTC) into timestamptz text in `out`.
 * Every field is range-checked here, so PostgreSQL never rejects the text. `*day` receives
 * the date in days since the epoch. Returns 0 when `s` is not such a value.
 */
static int
parse_time(const char *s, char out[SPEND_TIME_MAX + 1], int *date_only, long *day)
{
    const char *p = s;
    int year, month, mday, hour = 0, minute = 0, second = 0;
    char frac[8] = "";
    char zone[8] = "+00:00";

    if (!read_digits(&p, 4, &year) || *p++ != '-' || !read_digits(&p, 2, &month) || *p++ != '-' ||
        !read_digits(&p, 2, &mday))
        return 0;
    if (year < 1 || month < 1 || month > 12 || mday < 1 || mday > days_in_month(year, month))
        return 0;
    *date_only = *p == '\0';
    if (!*date_only) {
        if ((*p != 'T' && *p != ' ') || (p++, !read_digits(&p, 2, &hour)) || *p++ != ':' ||
            !read_digits(&p, 2, &minute) || hour > 23 || minute > 59)
            return 0;
        if (*p == ':' && (p++, !read_digits(&p, 2, &second) || second > 59))
            return 0;
        if (*p == '.') {
            size_t n = strspn(p + 1, "0123456789");

            if (n == 0 || n > 6)
                return 0;
            memcpy(frac, p, n + 1);
            frac[n + 1] = '\0';
            p += n + 1;
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int zh, zm;
            char sign = *p++;

            if (!read_digits(&p, 2, &zh) || *p++ != ':' || !read_digits(&p, 2, &zm) || zh > 14 ||
                zm > 59)
                return 0;
            snprintf(zone, sizeof(zone), "%c%02u:%02u", sign, (unsigned)zh % 100u,
                     (unsigned)zm % 100u);
        }
        if (*p != '\0')
            return 0;
    }
    snprintf(out, SPEND_TIME_MAX + 1, "%04d-%02d-%02dT%02d:%02d:%02d%s%s", year, month, mday, hour,
             minute, second, frac, zone);
    *day = days_from_civil(year, month, mday);
    return 1;
}

/* Reads the date parameter `name` into `out`. Returns 0 with the 400 sent. */
static int
read_time(struct sl_request *r, const char *name, char **raw, char out[SPEND_TIME_MAX + 1],
          int *date_only, long *day)
{
    if (!sl_mgmt_query_param(r, name, raw))
        return 0;
    if (*raw == NULL || parse_time(*raw, out, date_only, day))
        return 1;
    sl_request_respond_error(r, 400, "bad_request_error", name,
                             "Query parameter %s must be a date (YYYY-MM-DD) or an ISO 8601 date "
                             "and time (YYYY-MM-DDTHH:MM:SS, optionally with Z or +HH:MM).",
                             name);
    return 0;
}

/* ---------------------------------------------------------------- parameters */

/*
 * Reads the filters every spend route shares. `dates_required` makes start_date and end_date
 * mandatory (LiteLLM's message). Returns 0 with the 400 sent.
 */
static int
read_params(struct sl_request *r, struct spend_params *p, int dates_required)
{
    struct sl_errbuf err;
    int start_is_date = 0;
    long start_day = 0;
    long end_day = 0;

    if (!sl_mgmt_query_param(r, "api_key", &p->api_key) ||
        !sl_mgmt_query_param(r, "user_id", &p->user_id) ||
        !sl_mgmt_query_param(r, "team_id", &p->team_id) ||
        !sl_mgmt_query_param(r, "request_id", &p->request_id) ||
        !sl_mgmt_query_param(r, "end_user", &p->end_user) ||
        !read_time(r, "start_date", &p->start_date, p->start, &start_is_date, &start_day) ||
        !read_time(r, "end_date", &p->end_date, p->end, &p->end_is_date, &end_day))
        return 0;
    if (p->api_key != NULL && sl_mgmt_key_ref(p->api_key, p->key_hash, &err) != SL_OK) {
        sl_request_respond_error(r, 400, "bad_request_error", "api_key", "%s", err.msg);
        return 0;
    }
    if (dates_required && (p->start_date == NULL || p->end_date == NULL)) {
        sl_mgmt_respond_error(r, 400, "bad_request_error",
                              p->start_date == NULL ? "start_date" : "end_date",
                              "Please provide start_date and end_date");
        return 0;
    }
    if (p->start_date != NULL && p->end_date != NULL) {
        if (end_day < start_day) {
            sl_mgmt_respond_error(r, 400, "bad_request_error", "end_date",
                                  "end_date must not be before start_date.");
            return 0;
        }
        p->days = end_day - start_day;
    }
    return 1;
}

/* Fills `f` from `p`. A caller who is not an admin is limited to their own rows. */
static void
filter_from(struct sl_spend_filter *f, const struct spend_params *p,
            const struct sl_mgmt_caller *caller)
{
    memset(f, 0, sizeof(*f));
    f->api_key = p->api_key != NULL ? p->key_hash : NULL;
    f->user_id = p->user_id;
    f->team_id = p->team_id;
    f->request_id = p->request_id;
    f->end_user = p->end_user;
    f->start = p->start_date != NULL ? p->start : NULL;
    f->end = p->end_date != NULL ? p->end : NULL;
    f->end_is_date = p->end_is_date;
    f->owner_id = caller->admin ? NULL : caller->user_id;
}

/*
 * Lets admins and internal users (viewers too) through, as LiteLLM's spend tracking routes do,
 * and sends LiteLLM's 401 to every other role. Returns 1 when the caller may go on.
 */
static int
may_read_spend(struct sl_request *r, const struct sl_mgmt_caller *caller, const char *route)
{
    struct sl_errbuf err;
    int status;

    if (caller->admin || strcmp(caller->role, "internal_user") == 0 ||
        strcmp(caller->role, "internal_user_viewer") == 0)
        return 1;
    status = sl_mgmt_access_status(caller->role, SL_MGMT_ADMIN, route, &err);
    sl_request_respond_error(r, status, "auth_error", "None", "%s", err.msg);
    return 0;
}

static void
on_json(struct sl_request *r, const PGresult *res, void *data)
{
    (void)data;
    sl_mgmt_respond_row(r, res, "None", "The spend query returned no result.");
}

static const struct sl_mgmt_query_ops json_ops = {on_json, NULL, NULL};

/* ---------------------------------------------------------------- /spend/logs */

/* Reads page and page_size. Returns 0 with the 400 sent. */
static int
read_page(struct sl_request *r, long *page, long *page_size)
{
    return sl_mgmt_query_int(r, "page", 1, 1, SPEND_PAGE_MAX, page) &&
           sl_mgmt_query_int(r, "page_size", SPEND_PAGE_SIZE_DEFAULT, 1, SPEND_PAGE_SIZE_MAX,
                             page_size);
}

/*
 * GET /spend/logs: with start_date and end_date and summarize (default true), LiteLLM's daily
 * summary; otherwise one page of rows, newest first, as a bare list.
 */
static void
spend_logs(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct spend_params p = {0};
    struct sl_spend_filter f;
    struct sl_mgmt_sql q;
    char *summarize = NULL;
    long page, page_size;
    int summary;

    (void)body;
    if (!may_read_spend(r, caller, "/spend/logs") || !read_params(r, &p, 0) ||
        !read_page(r, &page, &page_size) || !sl_mgmt_query_param(r, "summarize", &summarize))
        goto out;
    if (summarize != NULL && strcmp(summarize, "true") != 0 && strcmp(summarize, "True") != 0 &&
        strcmp(summarize, "false") != 0 && strcmp(summarize, "False") != 0) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "summarize",
                              "Query parameter summarize must be true or false.");
        goto out;
    }
    summary = p.start_date != NULL && p.end_date != NULL &&
              (summarize == NULL || summarize[0] == 't' || summarize[0] == 'T');
    if (summary && p.days > SPEND_SUMMARY_MAX_DAYS) {
        sl_request_respond_error(r, 400, "bad_request_error", "end_date",
                                 "A daily summary covers at most %ld days; narrow start_date and "
                                 "end_date or pass summarize=false.",
                                 SPEND_SUMMARY_MAX_DAYS);
        goto out;
    }
    filter_from(&f, &p, caller);
    sl_mgmt_sql_init(&q);
    sl_spend_sql_filtered(&q, &f);
    if (summary)
        sl_spend_sql_summary(&q, p.end);
    else
        sl_spend_sql_rows(&q, page, page_size);
    sl_mgmt_run(r, &q, &json_ops, NULL);
out:
    free(summarize);
    params_dispose(&p);
}

/* GET /spend/logs/v2: one page of rows with the total, as LiteLLM's /spend/logs/ui. */
static void
spend_logs_v2(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct spend_params p = {0};
    struct sl_spend_filter f;
    struct sl_mgmt_sql q;
    long page, page_size;

    (void)body;
    if (!may_read_spend(r, caller, "/spend/logs/v2") || !read_params(r, &p, 0) ||
        !read_page(r, &page, &page_size))
        goto out;
    filter_from(&f, &p, caller);
    sl_mgmt_sql_init(&q);
    sl_spend_sql_filtered(&q, &f);
    sl_spend_sql_rows_page(&q, page, page_size);
    sl_mgmt_run(r, &q, &json_ops, NULL);
out:
    params_dispose(&p);
}

/* ---------------------------------------------------------------- /global/spend */

/*
 * GET /global/spend/report: spend per UTC day and team or customer, or per key and model.
 * api_key or internal_user_id select the per-key shape for that key or user, as in LiteLLM.
 */
static void
global_spend_report(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct spend_params p = {0};
    struct sl_spend_filter f;
    struct sl_mgmt_sql q;
    enum sl_spend_group group = SL_SPEND_BY_TEAM;
    char *group_by = NULL;
    char *internal_user_id = NULL;
    char *customer_id = NULL;

    (void)body;
    if (!read_params(r, &p, 1) || !sl_mgmt_query_param(r, "group_by", &group_by) ||
        !sl_mgmt_query_param(r, "internal_user_id", &internal_user_id) ||
        !sl_mgmt_query_param(r, "customer_id", &customer_id))
        goto out;
    if (group_by == NULL || strcmp(group_by, "team") == 0) {
        group = SL_SPEND_BY_TEAM;
    } else if (strcmp(group_by, "customer") == 0) {
        group = SL_SPEND_BY_CUSTOMER;
    } else if (strcmp(group_by, "api_key") == 0) {
        group = SL_SPEND_BY_API_KEY;
    } else {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "group_by",
                              "Query parameter group_by must be team, customer or api_key.");
        goto out;
    }
    filter_from(&f, &p, caller);
    if (internal_user_id != NULL)
        f.user_id = internal_user_id;
    if (customer_id != NULL)
        f.end_user = customer_id;
    if (p.api_key != NULL || internal_user_id != NULL)
        group = SL_SPEND_BY_API_KEY;
    sl_mgmt_sql_init(&q);
    sl_spend_sql_filtered(&q, &f);
    sl_spend_sql_report(&q, group);
    sl_mgmt_run(r, &q, &json_ops, NULL);
out:
    free(group_by);
    free(internal_user_id);
    free(customer_id);
    params_dispose(&p);
}

/* GET /global/spend/keys and /global/spend/models: the top `limit` of the last 30 days. */
static void
global_spend_top(struct sl_request *r, const struct sl_mgmt_caller *caller, const char *route,
                 long default_limit, void (*select)(struct sl_mgmt_sql *, long))
{
    struct sl_spend_filter f = {0};
    struct sl_mgmt_sql q;
    long limit;

    if (!may_read_spend(r, caller, route) ||
        !sl_mgmt_query_int(r, "limit", default_limit, 1, SPEND_TOP_MAX, &limit))
        return;
    f.last_30_days = 1;
    f.owner_id = caller->admin ? NULL : caller->user_id;
    sl_mgmt_sql_init(&q);
    sl_spend_sql_filtered(&q, &f);
    select(&q, limit);
    sl_mgmt_run(r, &q, &json_ops, NULL);
}

static void
global_spend_keys(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    (void)body;
    global_spend_top(r, caller, "/global/spend/keys", SPEND_TOP_MAX, sl_spend_sql_top_keys);
}

static void
global_spend_models(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    (void)body;
    global_spend_top(r, caller, "/global/spend/models", 10, sl_spend_sql_top_models);
}

/* GET /global/spend/teams: daily spend per team alias over the last 30 days. */
static void
global_spend_teams(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_spend_filter f = {0};
    struct sl_mgmt_sql q;

    (void)caller;
    (void)body;
    f.last_30_days = 1;
    sl_mgmt_sql_init(&q);
    sl_spend_sql_filtered(&q, &f);
    sl_spend_sql_teams(&q);
    sl_mgmt_run(r, &q, &json_ops, NULL);
}

/* GET /global/spend: the total of the last 30 days. */
static void
global_spend(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_spend_filter f = {0};
    struct sl_mgmt_sql q;

    (void)caller;
    (void)body;
    f.last_30_days = 1;
    sl_mgmt_sql_init(&q);
    sl_spend_sql_filtered(&q, &f);
    sl_spend_sql_total(&q);
    sl_mgmt_run(r, &q, &json_ops, NULL);
}

const struct sl_mgmt_route sl_mgmt_spend_routes[] = {
    {"/spend/logs", "GET", SL_MGMT_INFO, spend_logs},
    {"/spend/logs/v2", "GET", SL_MGMT_INFO, spend_logs_v2},
    {"/global/spend", "GET", SL_MGMT_ADMIN_READ, global_spend},
    {"/global/spend/report", "GET", SL_MGMT_ADMIN_READ, global_spend_report},
    {"/global/spend/keys", "GET", SL_MGMT_INFO, global_spend_keys},
    {"/global/spend/teams", "GET", SL_MGMT_ADMIN_READ, global_spend_teams},
    {"/global/spend/models", "GET", SL_MGMT_INFO, global_spend_models},
    {NULL, NULL, SL_MGMT_ADMIN, NULL},
};
