/* SPDX-License-Identifier: Apache-2.0 */
/*
 * users -- the /user/ routes: internal users with their budget row, their team and
 * organization memberships, and the key /user/new creates for them, in LiteLLM's request and
 * response shapes. new, update and delete are for proxy_admin, list also for
 * proxy_admin_viewer; info is for every role but shows other roles only their own user.
 *
 * Cached auth records carry the user's role and models, so a change to a user drops the cached
 * records of all its keys. A generated key exists in plaintext only in the call state of
 * /user/new: PostgreSQL gets its SHA-256, the response carries it once, and it is then wiped.
 */
#define SL_LOG_MODULE "mgmt"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "gateway/http/request.h"
#include "gateway/mgmt/routes.h"
#include "gateway/mgmt/users_internal.h"

/* Teams or organizations one /user/new call may name. */
#define USER_MEMBERSHIPS_MAX 100
/* Users one /user/delete call may name. */
#define USER_DELETE_MAX        1000
#define USER_LIST_DEFAULT_SIZE 25
#define USER_LIST_MAX_SIZE     100
/* Largest max_budget_in_team, the cap fields.c puts on every amount of money. */
#define USER_MONEY_MAX 1e15
/* Largest per-model limit: 2^53 - 1, exact in a double. */
#define USER_COUNT_MAX 9007199254740991.0

/* users.user_role values. /user/new and /user/update assign only the first
 * USER_ROLES_ASSIGNABLE (NewUserRequest's roles); /user/list filters by any. */
static const char *const user_roles[] = {
    "proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer", "org_admin",
    "team",        "customer",
};
#define USER_ROLES_ASSIGNABLE 4
#define USER_ROLES_ALL        (sizeof(user_roles) / sizeof(user_roles[0]))

static int
role_known(const char *role, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(role, user_roles[i]) == 0)
            return 1;
    }
    return 0;
}

/* State of one call, from the handler to the SQL result; every pointer is owned. */
struct user_call {
    char *plaintext;                 /* new: the generated key, wiped on free */
    char hash[SL_MGMT_HASH_LEN + 1]; /* new: its hash, "" without a key */
    char *user_id;                   /* the requested user_id, for messages */
    char *sso_user_id;               /* for the duplicate message */
    char *key_alias;                 /* for the duplicate message */
};

static char *
dup_or_null(const char *s)
{
    return s != NULL ? sl_xstrdup(s) : NULL;
}

static void
call_free(void *data)
{
    struct user_call *c = data;

    if (c->plaintext != NULL) {
        OPENSSL_cleanse(c->plaintext, strlen(c->plaintext));
        free(c->plaintext);
    }
    free(c->user_id);
    free(c->sso_user_id);
    free(c->key_alias);
    free(c);
}

/* Sends the 500 for a statement that returned no `what`, which it always should. */
static void
respond_no_result(struct sl_request *r, const char *what)
{
    sl_log(SL_LOG_ERROR, r->call_id, "mgmt.result_missing", SL_LOG_STR("route", r->path),
           SL_LOG_STR("missing", what));
    sl_request_respond_error(r, 500, "internal_server_error", "None",
                             "Internal Server Error, the database returned no %s.", what);
}

/* Drops the cached auth record of every hash in the JSON array `tokens` (may be NULL). */
static void
invalidate_tokens(struct sl_request *r, const cJSON *tokens)
{
    const cJSON *el;

    cJSON_ArrayForEach(el, tokens)
    {
        if (cJSON_IsString(el))
            sl_mgmt_invalidate_key(r->worker, el->valuestring);
    }
}

static int
on_db_error(struct sl_request *r, const char *sqlstate, const char *constraint, void *data)
{
    struct user_call *c = data;

    if (strcmp(sqlstate, "23505") != 0)
        return 0;
    if (strcmp(constraint, "users_pkey") == 0) {
        sl_request_respond_error(r, 400, "bad_request_error", "user_id",
                                 "A user with user_id=%s already exists.",
                                 c->user_id != NULL ? c->user_id : "");
        return 1;
    }
    if (strcmp(constraint, "users_sso_user_id_key") == 0) {
        sl_request_respond_error(r, 400, "bad_request_error", "sso_user_id",
                                 "A user with sso_user_id=%s already exists.",
                                 c->sso_user_id != NULL ? c->sso_user_id : "");
        return 1;
    }
    if (strcmp(constraint, "keys_key_alias_key") == 0) {
        sl_request_respond_error(r, 400, "bad_request_error", "key_alias",
                                 "Key with alias '%s' already exists. Unique key aliases across "
                                 "all keys are required.",
                                 c->key_alias != NULL ? c->key_alias : "");
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- input */

static void
input_dispose(struct sl_mgmt_user_input *in)
{
    sl_mgmt_values_dispose(&in->user);
    sl_mgmt_values_dispose(&in->meta);
    sl_mgmt_values_dispose(&in->key);
    free(in->limits_patch);
    free(in->teams);
    free(in->organizations);
}

/* Copies `name` of `body`, an object of whole numbers >= 0 per model (model_rpm_limit,
 * model_tpm_limit), into `patch`. Returns 0 with the 400 sent. */
static int
read_limit_map(struct sl_request *r, const cJSON *body, const char *name, cJSON *patch)
{
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(body, name);
    const cJSON *el;

    if (map == NULL || cJSON_IsNull(map))
        return 1;
    if (!cJSON_IsObject(map))
        goto bad;
    cJSON_ArrayForEach(el, map)
    {
        double v = cJSON_IsNumber(el) ? el->valuedouble : NAN;

        if (!(v >= 0 && v <= USER_COUNT_MAX) || v != floor(v))
            goto bad;
    }
    cJSON_AddItemToObject(patch, name, cJSON_Duplicate(map, 1));
    return 1;

bad:
    sl_request_respond_error(r, 400, "bad_request_error", name,
                             "Field %s must map model names to whole numbers >= 0, e.g. "
                             "{\"gpt-4o-mini\": 100}.",
                             name);
    return 0;
}

/* Returns 1 when `list` (a JSON array of objects or strings) has `id` under `member`. */
static int
list_has(const cJSON *list, const char *member, const char *id)
{
    const cJSON *el;

    cJSON_ArrayForEach(el, list)
    {
        const cJSON *v = member != NULL ? cJSON_GetObjectItemCaseSensitive(el, member) : el;

        if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0)
            return 1;
    }
    return 0;
}

/* Reads one entry of `teams`, a team id or {team_id, max_budget_in_team, user_role}, into
 * `out` as {"team_id", "role", "max_budget"?}. Returns 0 with the 400 sent. */
static int
read_team_entry(struct sl_request *r, const cJSON *el, cJSON *out)
{
    const cJSON *id = cJSON_IsObject(el) ? cJSON_GetObjectItemCaseSensitive(el, "team_id") : el;
    const cJSON *budget = cJSON_GetObjectItemCaseSensitive(el, "max_budget_in_team");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(el, "user_role");
    cJSON *entry;

    if (!cJSON_IsString(id) || id->valuestring[0] == '\0' ||
        strlen(id->valuestring) > SL_MGMT_ID_MAX) {
        sl_request_respond_error(r, 400, "bad_request_error", "teams",
                                 "Field teams must list team ids, or objects {\"team_id\", "
                                 "\"max_budget_in_team\", \"user_role\"}, with ids of 1 to %d "
                                 "bytes.",
                                 SL_MGMT_ID_MAX);
        return 0;
    }
    if (budget != NULL && !cJSON_IsNull(budget) &&
        (!cJSON_IsNumber(budget) || !(budget->valuedouble >= 0) ||
         budget->valuedouble > USER_MONEY_MAX)) {
        sl_request_respond_error(r, 400, "bad_request_error", "teams",
                                 "max_budget_in_team of team %s must be a number from 0 to %g.",
                                 id->valuestring, USER_MONEY_MAX);
        return 0;
    }
    if (role != NULL && !cJSON_IsNull(role) &&
        (!cJSON_IsString(role) ||
         (strcmp(role->valuestring, "admin") != 0 && strcmp(role->valuestring, "user") != 0))) {
        sl_request_respond_error(r, 400, "bad_request_error", "teams",
                                 "user_role of team %s must be \"admin\" or \"user\".",
                                 id->valuestring);
        return 0;
    }
    if (list_has(out, "team_id", id->valuestring)) {
        sl_request_respond_error(r, 400, "bad_request_error", "teams",
                                 "Field teams names team %s more than once.", id->valuestring);
        return 0;
    }
    entry = cJSON_CreateObject();
    cJSON_AddStringToObject(entry, "team_id", id->valuestring);
    cJSON_AddStringToObject(entry, "role", cJSON_IsString(role) ? role->valuestring : "user");
    if (cJSON_IsNumber(budget))
        cJSON_AddNumberToObject(entry, "max_budget", budget->valuedouble);
    cJSON_AddItemToArray(out, entry);
    return 1;
}

/* Reads `teams` into a JSON array of memberships (`*out`, NULL when absent). Returns 0 with
 * the 400 sent. */
static int
read_teams(struct sl_request *r, const cJSON *body, char **out)
{
    const cJSON *teams = cJSON_GetObjectItemCaseSensitive(body, "teams");
    const cJSON *el;
    cJSON *list;

    if (teams == NULL || cJSON_IsNull(teams))
        return 1;
    if (!cJSON_IsArray(teams) || cJSON_GetArraySize(teams) > USER_MEMBERSHIPS_MAX) {
        sl_request_respond_error(r, 400, "bad_request_error", "teams",
                                 "Field teams must be a list of at most %d teams.",
                                 USER_MEMBERSHIPS_MAX);
        return 0;
    }
    list = cJSON_CreateArray();
    cJSON_ArrayForEach(el, teams)
    {
        if (!read_team_entry(r, el, list)) {
            cJSON_Delete(list);
            return 0;
        }
    }
    *out = sl_json_print(list);
    cJSON_Delete(list);
    return 1;
}

/* Reads `organizations`, a list of organization ids, into `*out` (NULL when absent). Returns
 * 0 with the 400 sent. */
static int
read_organizations(struct sl_request *r, const cJSON *body, char **out)
{
    const cJSON *orgs = cJSON_GetObjectItemCaseSensitive(body, "organizations");
    const cJSON *el;
    cJSON *seen;

    if (orgs == NULL || cJSON_IsNull(orgs))
        return 1;
    if (!cJSON_IsArray(orgs) || cJSON_GetArraySize(orgs) > USER_MEMBERSHIPS_MAX)
        goto bad;
    seen = cJSON_CreateArray();
    cJSON_ArrayForEach(el, orgs)
    {
        if (!cJSON_IsString(el) || el->valuestring[0] == '\0' ||
            strlen(el->valuestring) > SL_MGMT_ID_MAX || list_has(seen, NULL, el->valuestring)) {
            cJSON_Delete(seen);
            goto bad;
        }
        cJSON_AddItemToArray(seen, cJSON_CreateString(el->valuestring));
    }
    *out = sl_json_print(seen);
    cJSON_Delete(seen);
    return 1;

bad:
    sl_request_respond_error(r, 400, "bad_request_error", "organizations",
                             "Field organizations must be a list of at most %d distinct "
                             "organization ids of 1 to %d bytes.",
                             USER_MEMBERSHIPS_MAX, SL_MGMT_ID_MAX);
    return 0;
}

/* Checks the fields /user/new (`for_new`) or /user/update accept. Returns 0 with the 400
 * sent; dispose `in` either way. */
static int
read_input(struct sl_request *r, const cJSON *body, int for_new, struct sl_mgmt_user_input *in)
{
    const char *param = NULL;
    const char *role;
    struct sl_errbuf err;
    cJSON *patch;
    int ok;

    if (sl_mgmt_values_parse(body, sl_mgmt__user_fields, sl_mgmt__n_user_fields, &in->user, &param,
                             &err) != SL_OK ||
        sl_mgmt_values_parse(body, sl_mgmt__user_meta_fields, sl_mgmt__n_user_meta_fields,
                             &in->meta, &param, &err) != SL_OK ||
        (for_new && sl_mgmt_values_parse(body, sl_mgmt__user_key_fields, sl_mgmt__n_user_key_fields,
                                         &in->key, &param, &err) != SL_OK)) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", param, err.msg);
        return 0;
    }
    role = sl_mgmt_value(&in->user, sl_mgmt__user_fields, "user_role");
    if (role != NULL && !role_known(role, USER_ROLES_ASSIGNABLE)) {
        sl_request_respond_error(r, 400, "bad_request_error", "user_role",
                                 "Invalid user_role '%s': expected proxy_admin, "
                                 "proxy_admin_viewer, internal_user or internal_user_viewer.",
                                 role);
        return 0;
    }

    patch = cJSON_CreateObject();
    ok = read_limit_map(r, body, "model_rpm_limit", patch) &&
         read_limit_map(r, body, "model_tpm_limit", patch);
    if (ok && patch->child != NULL)
        in->limits_patch = sl_json_print(patch);
    cJSON_Delete(patch);
    if (!ok)
        return 0;

    if (!for_new)
        return 1;
    return read_teams(r, body, &in->teams) && read_organizations(r, body, &in->organizations);
}

/* ---------------------------------------------------------------- new */

static void
on_new(struct sl_request *r, const PGresult *res, void *data)
{
    struct user_call *c = data;
    cJSON *key_item = NULL;
    cJSON *view;

    if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0 && c->hash[0] != '\0') {
        /* A lookup of the new hash before the commit may have cached "not found". */
        sl_mgmt_invalidate_key(r->worker, c->hash);
    }
    if (r->req == NULL)
        return;
    if (PQntuples(res) != 1) {
        respond_no_result(r, "new user");
        return;
    }
    if (!PQgetisnull(res, 0, 1)) {
        sl_request_respond_error(r, 400, "bad_request_error", "teams",
                                 "Team not found: %s. Create the team first or leave it out of "
                                 "teams.",
                                 PQgetvalue(res, 0, 1));
        return;
    }
    if (!PQgetisnull(res, 0, 2)) {
        sl_request_respond_error(r, 400, "bad_request_error", "organizations",
                                 "Organization not found: %s. Create the organization first or "
                                 "leave it out of organizations.",
                                 PQgetvalue(res, 0, 2));
        return;
    }
    view = sl_mgmt_result_json(res, 0, 3);
    if (view == NULL) {
        respond_no_result(r, "new user");
        return;
    }
    if (c->plaintext != NULL) {
        key_item = cJSON_CreateString(c->plaintext);
        cJSON_AddItemToObject(view, "key", key_item);
    }
    sl_mgmt_respond_json(r, view);
    if (key_item != NULL)
        OPENSSL_cleanse(key_item->valuestring, strlen(key_item->valuestring));
    cJSON_Delete(view);
}

static const struct sl_mgmt_query_ops new_ops = {on_new, on_db_error, call_free};

/* Reads auto_create_key (default true). Returns 0 with the 400 sent. */
static int
read_auto_create_key(struct sl_request *r, const cJSON *body, int *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, "auto_create_key");

    *out = 1;
    if (item == NULL || cJSON_IsNull(item))
        return 1;
    if (!cJSON_IsBool(item)) {
        sl_mgmt_respond_bad_field(r, "auto_create_key", "true or false");
        return 0;
    }
    *out = cJSON_IsTrue(item);
    return 1;
}

/* Generates the new user's key into `c` and describes it in `key`. Returns 0 with the 500
 * sent. */
static int
generate_key(struct sl_request *r, struct user_call *c, struct sl_mgmt_user_key *key,
             char key_name[16])
{
    char generated[SL_MGMT_KEY_LEN + 1];
    size_t len;

    if (sl_mgmt_key_generate(generated) != SL_OK) {
        sl_mgmt_respond_error(r, 500, "internal_server_error", NULL,
                              "Internal Server Error, the random generator failed.");
        return 0;
    }
    c->plaintext = sl_xstrdup(generated);
    OPENSSL_cleanse(generated, sizeof(generated));
    len = strlen(c->plaintext);
    sl_mgmt_key_hash(c->plaintext, len, c->hash);
    snprintf(key_name, 16, "sk-...%s", c->plaintext + len - 4);
    key->hash = c->hash;
    key->key_name = key_name;
    return 1;
}

static void
user_new(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_user_input in = {0};
    struct user_call *c = NULL;
    struct sl_mgmt_user_key key = {0};
    struct sl_mgmt_sql q;
    char key_name[16];
    const char *user_id;
    int auto_key;
    int bad;

    user_id = sl_mgmt_body_string(r, body, "user_id", SL_MGMT_ID_MAX, &bad);
    if (bad)
        return;
    if (user_id != NULL && user_id[0] == '\0') {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "user_id",
                              "Field user_id must not be empty; leave it out to get a generated "
                              "id.");
        return;
    }
    if (!read_auto_create_key(r, body, &auto_key) || !read_input(r, body, 1, &in))
        goto out;

    c = sl_xcalloc(1, sizeof(*c));
    c->user_id = dup_or_null(user_id);
    c->sso_user_id = dup_or_null(sl_mgmt_value(&in.user, sl_mgmt__user_fields, "sso_user_id"));
    c->key_alias = dup_or_null(in.key.set[0] ? in.key.text[0] : NULL);
    if (auto_key && !generate_key(r, c, &key, key_name))
        goto out;

    sl_mgmt_sql_init(&q);
    sl_mgmt__user_sql_new(&q, caller, user_id, &in, auto_key ? &key : NULL);
    sl_mgmt_run(r, &q, &new_ops, c);
    c = NULL;

out:
    if (c != NULL)
        call_free(c);
    input_dispose(&in);
}

/* ---------------------------------------------------------------- info */

static void
on_info(struct sl_request *r, const PGresult *res, void *data)
{
    struct user_call *c = data;
    cJSON *out = sl_mgmt_result_json(res, 0, 0);

    if (r->req == NULL)
        goto out;
    if (out == NULL) {
        sl_request_respond_error(r, 404, "not_found_error", "user_id",
                                 "User not found: user_id=%s. Pass an existing user_id.",
                                 c->user_id);
        goto out;
    }
    sl_mgmt_respond_json(r, out);

out:
    cJSON_Delete(out);
}

static const struct sl_mgmt_query_ops info_ops = {on_info, NULL, call_free};

/* GET ?user_id=: the user, its keys and its teams; the caller's own user when left out. */
static void
user_info(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct user_call *c;
    struct sl_mgmt_sql q;
    char *requested = NULL;
    const char *user_id;

    (void)body;
    if (!sl_mgmt_query_param(r, "user_id", &requested))
        return;
    user_id = requested != NULL && requested[0] != '\0' ? requested : caller->user_id;
    if (user_id[0] == '\0') {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "user_id",
                              "Pass ?user_id=<id>: the calling key belongs to no user.");
        goto out;
    }
    if (!caller->admin && strcmp(user_id, caller->user_id) != 0) {
        sl_request_respond_error(r, 403, "auth_error", "None",
                                 "key not allowed to access this user's info. user_id=%s, key's "
                                 "user_id=%s",
                                 user_id, caller->user_id[0] != '\0' ? caller->user_id : "None");
        goto out;
    }
    c = sl_xcalloc(1, sizeof(*c));
    c->user_id = sl_xstrdup(user_id);
    sl_mgmt_sql_init(&q);
    sl_mgmt__user_sql_info(&q, c->user_id);
    sl_mgmt_run(r, &q, &info_ops, c);

out:
    free(requested);
}

/* ---------------------------------------------------------------- update */

static void
on_updated(struct sl_request *r, const PGresult *res, void *data)
{
    cJSON *tokens = sl_mgmt_result_json(res, 0, 2);
    cJSON *view = NULL;
    long matched = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    const struct user_call *c = data;

    /* Done before anything else, also for a client that left: the change is committed. */
    invalidate_tokens(r, tokens);
    if (r->req == NULL)
        goto out;
    if (matched == 0) {
        sl_mgmt_respond_error(r, 404, "not_found_error",
                              c->user_id != NULL ? "user_id" : "user_email",
                              "User not found. Pass an existing user_id or user_email.");
        goto out;
    }
    if (matched > 1) {
        sl_request_respond_error(r, 400, "bad_request_error", "user_email",
                                 "%ld users have this user_email; pass user_id to choose one.",
                                 matched);
        goto out;
    }
    view = sl_mgmt_result_json(res, 0, 1);
    if (view == NULL) {
        respond_no_result(r, "updated user");
        goto out;
    }
    sl_mgmt_respond_json(r, view);

out:
    cJSON_Delete(view);
    cJSON_Delete(tokens);
}

static const struct sl_mgmt_query_ops update_ops = {on_updated, on_db_error, call_free};

/*
 * Changes the user named by user_id, or else by user_email. Memberships belong to the /team/
 * and /organization/ member routes, so teams and organizations are rejected here rather than
 * ignored. key_alias, duration and auto_create_key only apply to /user/new and are ignored, as
 * LiteLLM ignores fields a route does not use.
 */
static void
user_update(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    static const char *const member_fields[] = {"teams", "organizations"};
    struct sl_mgmt_user_input in = {0};
    struct user_call *c;
    struct sl_mgmt_sql q;
    const char *user_id;
    const char *email;
    int bad;

    user_id = sl_mgmt_body_string(r, body, "user_id", SL_MGMT_ID_MAX, &bad);
    if (bad)
        return;
    for (size_t i = 0; i < 2; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, member_fields[i]);

        if (item != NULL && !cJSON_IsNull(item)) {
            sl_request_respond_error(r, 400, "bad_request_error", member_fields[i],
                                     "/user/update does not change %s; use the member routes "
                                     "of /team/ and /organization/.",
                                     member_fields[i]);
            return;
        }
    }
    if (!read_input(r, body, 0, &in))
        goto out;
    email = sl_mgmt_value(&in.user, sl_mgmt__user_fields, "user_email");
    if (user_id == NULL && email == NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "user_id",
                              "user_id or user_email is required to update a user.");
        goto out;
    }

    c = sl_xcalloc(1, sizeof(*c));
    c->user_id = dup_or_null(user_id);
    c->sso_user_id = dup_or_null(sl_mgmt_value(&in.user, sl_mgmt__user_fields, "sso_user_id"));
    sl_mgmt_sql_init(&q);
    sl_mgmt__user_sql_update(&q, caller, user_id, email, &in);
    sl_mgmt_run(r, &q, &update_ops, c);

out:
    input_dispose(&in);
}

/* ---------------------------------------------------------------- delete */

static void
on_deleted(struct sl_request *r, const PGresult *res, void *data)
{
    int ok = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    cJSON *tokens = sl_mgmt_result_json(res, 0, 1);
    cJSON *out;

    (void)data;
    invalidate_tokens(r, tokens);
    cJSON_Delete(tokens);
    if (!ok) {
        sl_mgmt_respond_error(r, 404, "not_found_error", "user_ids",
                              "Some of the users to delete were not found; nothing was "
                              "deleted.");
        return;
    }
    out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "deleted_users", sl_mgmt_result_json(res, 0, 2));
    sl_mgmt_respond_json(r, out);
    cJSON_Delete(out);
}

static const struct sl_mgmt_query_ops delete_ops = {on_deleted, NULL, NULL};

/*
 * POST {"user_ids": [...]}: deletes the users, their keys (copied to deleted_keys first) and
 * their memberships. The response {"deleted_users": [ids]} mirrors /key/delete's
 * {"deleted_keys": [...]}; LiteLLM's own response shape for this route was not checked.
 */
static void
user_delete(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "user_ids");
    const cJSON *el;
    struct sl_mgmt_sql q;
    char *text;

    if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) == 0 ||
        cJSON_GetArraySize(ids) > USER_DELETE_MAX) {
        sl_request_respond_error(r, 400, "bad_request_error", "user_ids",
                                 "Pass {\"user_ids\": [\"<user_id>\", ...]} with 1 to %d ids.",
                                 USER_DELETE_MAX);
        return;
    }
    cJSON_ArrayForEach(el, ids)
    {
        if (!cJSON_IsString(el) || strlen(el->valuestring) > SL_MGMT_ID_MAX) {
            sl_mgmt_respond_bad_field(r, "user_ids", "a list of user ids");
            return;
        }
    }
    text = sl_json_print(ids);
    sl_mgmt_sql_init(&q);
    sl_mgmt__user_sql_delete(&q, caller, text);
    sl_mgmt_run(r, &q, &delete_ops, NULL);
    free(text);
}

/* ---------------------------------------------------------------- list */

static void
on_list(struct sl_request *r, const PGresult *res, void *data)
{
    cJSON *out = sl_mgmt_result_json(res, 0, 0);

    (void)data;
    if (out == NULL) {
        respond_no_result(r, "user list");
        return;
    }
    sl_mgmt_respond_json(r, out);
    cJSON_Delete(out);
}

static const struct sl_mgmt_query_ops list_ops = {on_list, NULL, NULL};

/* Reads query parameter `name`; an empty value counts as absent. Returns 0 with the 400 sent. */
static int
query_filter(struct sl_request *r, const char *name, char **value)
{
    if (!sl_mgmt_query_param(r, name, value))
        return 0;
    if (*value != NULL && (*value)[0] == '\0') {
        free(*value);
        *value = NULL;
    }
    return 1;
}

static void
user_list(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    char *role = NULL;
    char *ids = NULL;
    char *email = NULL;
    char *team = NULL;
    char page_text[24];
    char size_text[24];
    char offset_text[24];
    long page;
    long size;
    struct sl_mgmt_user_filter f;
    struct sl_mgmt_sql q;

    (void)caller;
    (void)body;
    if (!sl_mgmt_query_int(r, "page", 1, 1, 1000000, &page) ||
        !sl_mgmt_query_int(r, "page_size", USER_LIST_DEFAULT_SIZE, 1, USER_LIST_MAX_SIZE, &size) ||
        !query_filter(r, "role", &role) || !query_filter(r, "user_ids", &ids) ||
        !query_filter(r, "user_email", &email) || !query_filter(r, "team", &team))
        goto out;
    if (role != NULL && !role_known(role, USER_ROLES_ALL)) {
        sl_request_respond_error(r, 400, "bad_request_error", "role",
                                 "Invalid role '%s': expected one of proxy_admin, "
                                 "proxy_admin_viewer, internal_user, internal_user_viewer, "
                                 "org_admin, team, customer.",
                                 role);
        goto out;
    }
    snprintf(page_text, sizeof(page_text), "%ld", page);
    snprintf(size_text, sizeof(size_text), "%ld", size);
    snprintf(offset_text, sizeof(offset_text), "%ld", (page - 1) * size);

    f.role = role;
    f.user_ids = ids;
    f.user_email = email;
    f.team = team;
    sl_mgmt_sql_init(&q);
    sl_mgmt__user_sql_list(&q, &f, page_text, size_text, offset_text);
    sl_mgmt_run(r, &q, &list_ops, NULL);

out:
    free(role);
    free(ids);
    free(email);
    free(team);
}

const struct sl_mgmt_route sl_mgmt_user_routes[] = {
    {"/user/new", "POST", SL_MGMT_ADMIN, user_new},
    {"/user/info", "GET", SL_MGMT_INFO, user_info},
    {"/user/update", "POST", SL_MGMT_ADMIN, user_update},
    {"/user/delete", "POST", SL_MGMT_ADMIN, user_delete},
    {"/user/list", "GET", SL_MGMT_ADMIN_READ, user_list},
    {NULL, NULL, SL_MGMT_ADMIN, NULL},
};
