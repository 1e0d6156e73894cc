/* SPDX-License-Identifier: Apache-2.0 */
/*
 * teams -- the /team/ routes: new, update, block, unblock, delete, info, list, member_add,
 * member_delete and member_update, with LiteLLM's request and response shapes. This file
 * checks the bodies and maps results to responses; teams_sql.c builds the one statement
 * each call runs.
 *
 * new and delete are for proxy_admin. The other writes are for proxy_admin and the team's
 * admins, checked inside the statement. info and list show every team to proxy_admin and
 * proxy_admin_viewer, and to anyone else only the teams they are a member of (info also to
 * a key of the team).
 *
 * Cached auth records carry team fields (models, blocked, the member's role), so every write
 * invalidates the records of the team's keys, also when the client left before the result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "gateway/http/request.h"
#include "gateway/mgmt/routes.h"
#include "gateway/mgmt/teams_sql.h"

/* Members one call may name, and team ids one /team/delete may name. */
#define TEAM_MEMBERS_MAX 1000
#define TEAM_DELETE_MAX  1000
/* Maximum length of one entry of `tags`, in bytes. */
#define TEAM_TAG_MAX 1024

enum team_op {
    TEAM_NEW,
    TEAM_UPDATE,
    TEAM_BLOCK,
    TEAM_UNBLOCK,
    TEAM_DELETE,
    TEAM_INFO,
    TEAM_LIST,
    TEAM_MEMBER_ADD,
    TEAM_MEMBER_DELETE,
    TEAM_MEMBER_UPDATE,
};

/* State of one call, from the handler to the result. */
struct team_call {
    enum team_op op;
    char team_id[SL_MGMT_ID_MAX + 1]; /* "" when generated */
    char role[32];                    /* the caller's user role, for messages */
    int single_member;                /* member_add: `member` was one object */
};

static struct team_call *
call_create(enum team_op op, const struct sl_mgmt_caller *caller, const char *team_id)
{
    struct team_call *c = sl_xcalloc(1, sizeof(*c));

    c->op = op;
    snprintf(c->team_id, sizeof(c->team_id), "%s", team_id != NULL ? team_id : "");
    snprintf(c->role, sizeof(c->role), "%s", caller->role[0] != '\0' ? caller->role : "None");
    return c;
}

static void
input_dispose(struct sl_mgmt_team_input *in)
{
    sl_mgmt_values_dispose(&in->team);
    sl_mgmt_values_dispose(&in->member_budget);
    sl_mgmt_values_dispose(&in->membership);
}

/* ---------------------------------------------------------------- results */

/* Drops the cached auth records of the keys listed in the result's tokens column. */
static void
invalidate_tokens(struct sl_request *r, const PGresult *res)
{
    cJSON *tokens = sl_mgmt_result_json(res, 0, SL_MGMT_TEAM_COL_TOKENS);
    const cJSON *token;

    cJSON_ArrayForEach(token, tokens)
    {
        if (cJSON_IsString(token))
            sl_mgmt_invalidate_key(r->worker, token->valuestring);
    }
    cJSON_Delete(tokens);
}

static void
respond_status(struct sl_request *r, const struct team_call *c, const char *status,
               const char *detail)
{
    if (strcmp(status, "not_found") == 0 && c->op == TEAM_DELETE) {
        sl_request_respond_error(r, 404, "not_found_error", "team_ids",
                                 "Team not found, passed team_id=%s. Nothing was deleted.",
                                 detail != NULL ? detail : "");
    } else if (strcmp(status, "not_found") == 0) {
        sl_request_respond_error(r, 404, "not_found_error", "team_id",
                                 "Team not found for team_id=%s", c->team_id);
    } else if (strcmp(status, "forbidden") == 0 && c->op == TEAM_INFO) {
        sl_request_respond_error(r, 403, "auth_error", "team_id",
                                 "Only proxy_admin, proxy_admin_viewer or a member of team=%s "
                                 "can call %s. Your role=%s.",
                                 c->team_id, r->path, c->role);
    } else if (strcmp(status, "forbidden") == 0) {
        sl_request_respond_error(r, 403, "auth_error", "team_id",
                                 "Only proxy_admin or an admin of team=%s can call %s. Your "
                                 "role=%s, your role in the team=%s.",
                                 c->team_id, r->path, c->role,
                                 detail != NULL ? detail : "not a member");
    } else if (strcmp(status, "already_member") == 0) {
        sl_request_respond_error(r, 400, "team_member_already_in_team", "member",
                                 c->single_member ? "User already in team=%s. Member: %s."
                                                  : "All users are already in team=%s. "
                                                    "Members: %s.",
                                 c->team_id, detail != NULL ? detail : "");
    } else if (strcmp(status, "not_member") == 0) {
        sl_request_respond_error(r, 400, "bad_request_error", "user_id",
                                 "User not found in team=%s. Pass the user_id or user_email "
                                 "of a member.",
                                 c->team_id);
    } else {
        sl_mgmt_respond_error(r, 500, "internal_server_error", NULL,
                              "Internal Server Error, the database returned no team result.");
    }
}

static void
on_result(struct sl_request *r, const PGresult *res, void *data)
{
    struct team_call *c = data;
    cJSON *body;
    cJSON *out;

    /* Also when the client has gone: the change is committed either way. */
    invalidate_tokens(r, res);
    if (r->req == NULL)
        return;
    if (PQntuples(res) != 1 || PQnfields(res) != 4) {
        respond_status(r, c, "", NULL);
        return;
    }
    if (strcmp(PQgetvalue(res, 0, SL_MGMT_TEAM_COL_STATUS), "ok") != 0) {
        respond_status(r, c, PQgetvalue(res, 0, SL_MGMT_TEAM_COL_STATUS),
                       PQgetisnull(res, 0, SL_MGMT_TEAM_COL_DETAIL)
                           ? NULL
                           : PQgetvalue(res, 0, SL_MGMT_TEAM_COL_DETAIL));
        return;
    }
    body = sl_mgmt_result_json(res, 0, SL_MGMT_TEAM_COL_BODY);
    if (body == NULL) {
        respond_status(r, c, "", NULL);
        return;
    }
    if (c->op == TEAM_UPDATE) {
        /* LiteLLM's /team/update wraps the row: {"team_id": ..., "data": <team>}. */
        out = cJSON_CreateObject();
        cJSON_AddItemToObject(out, "team_id",
                              cJSON_Duplicate(cJSON_GetObjectItem(body, "team_id"), 1));
        cJSON_AddItemToObject(out, "data", body);
        body = out;
    }
    sl_mgmt_respond_json(r, body);
    cJSON_Delete(body);
}

static int
on_db_error(struct sl_request *r, const char *sqlstate, const char *constraint, void *data)
{
    struct team_call *c = data;

    if (strcmp(sqlstate, "23505") == 0 && strcmp(constraint, "teams_pkey") == 0) {
        sl_request_respond_error(r, 400, "bad_request_error", "team_id",
                                 "Team id = %s already exists. Please use a different team id.",
                                 c->team_id);
        return 1;
    }
    if (strcmp(sqlstate, "23505") == 0 && strcmp(constraint, "team_memberships_pkey") == 0) {
        sl_mgmt_respond_error(r, 400, "team_member_already_in_team", "member",
                              "A member was added to the team at the same time; retry.");
        return 1;
    }
    if (strcmp(sqlstate, "23503") == 0 && strstr(constraint, "organization_id") != NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "organization_id",
                              "The organization_id given does not exist; create the "
                              "organization first.");
        return 1;
    }
    return 0;
}

static void
call_free(void *data)
{
    free(data);
}

static const struct sl_mgmt_query_ops team_ops = {on_result, on_db_error, call_free};

/* ---------------------------------------------------------------- input */

/* Parses the fields of `fields` that `body` sends. Returns 0 with the 400 sent. */
static int
parse_values(struct sl_request *r, const cJSON *body, const struct sl_mgmt_field_spec *fields,
             size_t n, struct sl_mgmt_values *v)
{
    const char *param;
    struct sl_errbuf err;

    if (sl_mgmt_values_parse(body, fields, n, v, &param, &err) == SL_OK)
        return 1;
    sl_mgmt_respond_error(r, 400, "bad_request_error", param, err.msg);
    return 0;
}

/* Reads the required team_id. Returns NULL with the 400 sent. */
static const char *
required_team_id(struct sl_request *r, const cJSON *body)
{
    int bad;
    const char *id = sl_mgmt_body_string(r, body, "team_id", SL_MGMT_ID_MAX, &bad);

    if (bad)
        return NULL;
    if (id == NULL || id[0] == '\0')
        sl_mgmt_respond_error(r, 400, "bad_request_error", "team_id",
                              "Missing team_id: pass the id of an existing team.");
    return id != NULL && id[0] != '\0' ? id : NULL;
}

/* Checks that soft_budget < max_budget when both are sent. Returns 0 with the 400 sent. */
static int
check_soft_budget(struct sl_request *r, const struct sl_mgmt_values *v)
{
    const char *soft = sl_mgmt_value(v, sl_mgmt__team_fields, "soft_budget");
    const char *max = sl_mgmt_value(v, sl_mgmt__team_fields, "max_budget");

    if (soft == NULL || max == NULL || strtod(soft, NULL) < strtod(max, NULL))
        return 1;
    sl_request_respond_error(r, 400, "bad_request_error", "soft_budget",
                             "soft_budget must be less than max_budget. Received: "
                             "soft_budget=%s, max_budget=%s",
                             soft, max);
    return 0;
}

/* Returns 1 when `item` is an object of whole numbers >= 0 (model_rpm_limit, ...). */
static int
is_limit_map(const cJSON *item)
{
    const cJSON *el;

    if (!cJSON_IsObject(item))
        return 0;
    cJSON_ArrayForEach(el, item)
    {
        if (!cJSON_IsNumber(el) || el->valuedouble < 0 || el->valuedouble > 9007199254740991.0 ||
            el->valuedouble != (double)(long long)el->valuedouble)
            return 0;
    }
    return 1;
}

/*
 * Reads metadata (replaces the stored object) and tags, model_rpm_limit and model_tpm_limit
 * (merged into it, as LiteLLM stores them). The texts are owned by the caller. Returns 0 with
 * the 400 sent.
 */
static int
parse_metadata(struct sl_request *r, const cJSON *body, char **metadata, char **patch)
{
    static const char *const limit_maps[] = {"model_rpm_limit", "model_tpm_limit"};
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(body, "metadata");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(body, "tags");
    const cJSON *el;
    cJSON *out = cJSON_CreateObject();

    if (meta != NULL && !cJSON_IsNull(meta) && !cJSON_IsObject(meta)) {
        sl_mgmt_respond_bad_field(r, "metadata", "a JSON object");
        goto fail;
    }
    if (tags != NULL && !cJSON_IsNull(tags)) {
        if (!cJSON_IsArray(tags))
            goto bad_tags;
        cJSON_ArrayForEach(el, tags)
        {
            if (!cJSON_IsString(el) || strlen(el->valuestring) > TEAM_TAG_MAX)
                goto bad_tags;
        }
        cJSON_AddItemToObject(out, "tags", cJSON_Duplicate(tags, 1));
    }
    for (size_t i = 0; i < 2; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, limit_maps[i]);

        if (item == NULL || cJSON_IsNull(item))
            continue;
        if (!is_limit_map(item)) {
            sl_mgmt_respond_bad_field(r, limit_maps[i],
                                      "an object mapping model names to whole numbers >= 0");
            goto fail;
        }
        cJSON_AddItemToObject(out, limit_maps[i], cJSON_Duplicate(item, 1));
    }
    *metadata = meta != NULL && cJSON_IsObject(meta) ? sl_json_print(meta) : NULL;
    *patch = out->child != NULL ? sl_json_print(out) : NULL;
    cJSON_Delete(out);
    return 1;

bad_tags:
    sl_mgmt_respond_bad_field(r, "tags", "a list of strings");
fail:
    cJSON_Delete(out);
    return 0;
}

/* Returns 1 when member `a` and `b` name the same user id or e-mail. */
static int
same_member(const cJSON *a, const cJSON *b)
{
    const char *id_a = sl_json_get_string(a, "user_id");
    const char *id_b = sl_json_get_string(b, "user_id");
    const char *mail_a = sl_json_get_string(a, "user_email");
    const char *mail_b = sl_json_get_string(b, "user_email");

    return (id_a != NULL && id_b != NULL && strcmp(id_a, id_b) == 0) ||
           (mail_a != NULL && mail_b != NULL && strcasecmp(mail_a, mail_b) == 0);
}

/*
 * Reads one member {role, user_id | user_email} into a normalized object appended to `list`.
 * Returns 0 with the 400 sent.
 */
static int
parse_member(struct sl_request *r, const cJSON *el, const char *field, cJSON *list)
{
    static const char *const ids[] = {"user_id", "user_email"};
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(el, "role");
    const cJSON *seen;
    cJSON *m;

    if (!cJSON_IsObject(el)) {
        sl_mgmt_respond_bad_field(r, field, "a member {\"role\", \"user_id\" or \"user_email\"}");
        return 0;
    }
    if (role != NULL && !cJSON_IsNull(role) &&
        (!cJSON_IsString(role) ||
         (strcmp(role->valuestring, "admin") != 0 && strcmp(role->valuestring, "user") != 0))) {
        sl_request_respond_error(r, 400, "bad_request_error", field,
                                 "The role of a member of %s must be \"admin\" or \"user\".",
                                 field);
        return 0;
    }
    m = cJSON_CreateObject();
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(el, ids[i]);

        if (v == NULL || cJSON_IsNull(v))
            continue;
        if (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
            strlen(v->valuestring) > SL_MGMT_ID_MAX) {
            sl_request_respond_error(r, 400, "bad_request_error", field,
                                     "The %s of a member of %s must be a non-empty string of at "
                                     "most %d bytes.",
                                     ids[i], field, SL_MGMT_ID_MAX);
            cJSON_Delete(m);
            return 0;
        }
        cJSON_AddStringToObject(m, ids[i], v->valuestring);
    }
    if (m->child == NULL) {
        sl_request_respond_error(r, 400, "bad_request_error", field,
                                 "Each member of %s needs a user_id or a user_email.", field);
        cJSON_Delete(m);
        return 0;
    }
    cJSON_ArrayForEach(seen, list)
    {
        if (same_member(seen, m)) {
            sl_request_respond_error(r, 400, "bad_request_error", field,
                                     "%s names the same user twice.", field);
            cJSON_Delete(m);
            return 0;
        }
    }
    cJSON_AddStringToObject(m, "role", cJSON_IsString(role) ? role->valuestring : "user");
    cJSON_AddItemToArray(list, m);
    return 1;
}

/*
 * Reads the members in `item`: a list, or with `allow_one` a single member object (sets
 * `*single`). `required` rejects an absent or empty list. `*out` is JSON array text (owned),
 * NULL when there are none. Returns 0 with the 400 sent.
 */
static int
parse_members(struct sl_request *r, const cJSON *item, const char *field, int allow_one,
              int required, char **out, int *single)
{
    cJSON *list = cJSON_CreateArray();
    const cJSON *el;

    *out = NULL;
    *single = 0;
    if (item == NULL || cJSON_IsNull(item)) {
        if (required)
            sl_request_respond_error(r, 400, "bad_request_error", field,
                                     "Missing %s: pass a member {\"role\", \"user_id\" or "
                                     "\"user_email\"} or a list of them.",
                                     field);
        cJSON_Delete(list);
        return !required;
    }
    if (allow_one && cJSON_IsObject(item)) {
        *single = 1;
        if (!parse_member(r, item, field, list))
            goto fail;
    } else if (cJSON_IsArray(item) && cJSON_GetArraySize(item) <= TEAM_MEMBERS_MAX &&
               (!required || cJSON_GetArraySize(item) > 0)) {
        cJSON_ArrayForEach(el, item)
        {
            if (!parse_member(r, el, field, list))
                goto fail;
        }
    } else {
        sl_request_respond_error(r, 400, "bad_request_error", field,
                                 "%s must be a list of %d to %d members {\"role\", \"user_id\" "
                                 "or \"user_email\"}.",
                                 field, required ? 1 : 0, TEAM_MEMBERS_MAX);
        goto fail;
    }
    if (cJSON_GetArraySize(list) > 0)
        *out = sl_json_print(list);
    cJSON_Delete(list);
    return 1;

fail:
    cJSON_Delete(list);
    return 0;
}

/* Rejects the writes proxy_admin_viewer may not make. Returns 0 with the 403 sent. */
static int
check_not_viewer(struct sl_request *r, const struct sl_mgmt_caller *caller)
{
    if (strcmp(caller->role, "proxy_admin_viewer") != 0)
        return 1;
    sl_request_respond_error(r, 403, "auth_error", "None",
                             "user not allowed to access this route, role= %s. Trying to "
                             "access: %s",
                             caller->role, r->path);
    return 0;
}

/* Reads the team fields, member budget fields and metadata of /team/new and /team/update.
 * Returns 0 with the 400 sent. */
static int
parse_team_body(struct sl_request *r, const cJSON *body, struct sl_mgmt_team_input *in,
                char **metadata, char **patch)
{
    if (!parse_values(r, body, sl_mgmt__team_fields, sl_mgmt__n_team_fields, &in->team) ||
        !parse_values(r, body, sl_mgmt__member_budget_fields, sl_mgmt__n_member_budget_fields,
                      &in->member_budget) ||
        !check_soft_budget(r, &in->team) || !parse_metadata(r, body, metadata, patch))
        return 0;
    in->metadata = *metadata;
    in->metadata_patch = *patch;
    return 1;
}

/* ---------------------------------------------------------------- new, update, delete */

static void
team_new(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_team_input in = {0};
    struct sl_mgmt_sql q;
    char *metadata = NULL;
    char *patch = NULL;
    char *members = NULL;
    int single;
    int bad;

    in.team_id = sl_mgmt_body_string(r, body, "team_id", SL_MGMT_ID_MAX, &bad);
    if (bad || !parse_team_body(r, body, &in, &metadata, &patch) ||
        !parse_members(r, cJSON_GetObjectItemCaseSensitive(body, "members_with_roles"),
                       "members_with_roles", 0, 0, &members, &single))
        goto out;
    in.members = members;

    sl_mgmt_sql_init(&q);
    sl_mgmt__team_sql_new(&q, caller, &in);
    sl_mgmt_run(r, &q, &team_ops, call_create(TEAM_NEW, caller, in.team_id));
out:
    input_dispose(&in);
    free(metadata);
    free(patch);
    free(members);
}

/*
 * Rejects a /team/update by a team admin that changes more than the team's name, its
 * members' route permissions or its tags: limits, budgets, models, metadata and the
 * organization are proxy_admin's, or a team admin could lift its own team's limits.
 * Returns 0 with the 403 sent.
 */
static int
check_team_admin_fields(struct sl_request *r, const struct sl_mgmt_caller *caller,
                        const cJSON *body)
{
    static const char *const other[] = {"metadata", "model_rpm_limit", "model_tpm_limit"};
    const char *field = NULL;

    if (strcmp(caller->role, "proxy_admin") == 0)
        return 1;
    for (size_t i = 0; field == NULL && i < sl_mgmt__n_team_fields; i++) {
        const char *name = sl_mgmt__team_fields[i].name;
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, name);

        if (item != NULL && !cJSON_IsNull(item) && strcmp(name, "team_alias") != 0 &&
            strcmp(name, "team_member_permissions") != 0)
            field = name;
    }
    for (size_t i = 0; field == NULL && i < sl_mgmt__n_member_budget_fields; i++) {
        const cJSON *item =
            cJSON_GetObjectItemCaseSensitive(body, sl_mgmt__member_budget_fields[i].name);

        if (item != NULL && !cJSON_IsNull(item))
            field = sl_mgmt__member_budget_fields[i].name;
    }
    for (size_t i = 0; field == NULL && i < sizeof(other) / sizeof(other[0]); i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, other[i]);

        if (item != NULL && !cJSON_IsNull(item))
            field = other[i];
    }
    if (field == NULL)
        return 1;
    sl_request_respond_error(r, 403, "auth_error", field,
                             "Only proxy_admin may change %s of a team. Team admins may change "
                             "team_alias, team_member_permissions and tags.",
                             field);
    return 0;
}

/* /team/update, /team/block and /team/unblock. */
static void
run_update(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body,
           enum team_op op)
{
    struct sl_mgmt_team_input in = {0};
    struct sl_mgmt_sql q;
    char *metadata = NULL;
    char *patch = NULL;
    const char *action = "updated";

    if (!check_not_viewer(r, caller))
        return;
    in.team_id = required_team_id(r, body);
    if (in.team_id == NULL)
        return;
    if (op == TEAM_UPDATE) {
        if (!check_team_admin_fields(r, caller, body) ||
            !parse_team_body(r, body, &in, &metadata, &patch))
            goto out;
    } else {
        /* Block and unblock set one field and take nothing else from the body. */
        int i = sl_mgmt_field_index(sl_mgmt__team_fields, sl_mgmt__n_team_fields, "blocked");

        in.team.n = sl_mgmt__n_team_fields;
        in.team.set[i] = 1;
        in.team.text[i] = sl_xstrdup(op == TEAM_BLOCK ? "true" : "false");
        action = op == TEAM_BLOCK ? "blocked" : "unblocked";
    }
    sl_mgmt_sql_init(&q);
    sl_mgmt__team_sql_update(&q, caller, &in, action);
    sl_mgmt_run(r, &q, &team_ops, call_create(op, caller, in.team_id));
out:
    input_dispose(&in);
    free(metadata);
    free(patch);
}

static void
team_update(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    run_update(r, caller, body, TEAM_UPDATE);
}

static void
team_block(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    run_update(r, caller, body, TEAM_BLOCK);
}

static void
team_unblock(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    run_update(r, caller, body, TEAM_UNBLOCK);
}

static void
team_delete(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "team_ids");
    const cJSON *el;
    struct sl_mgmt_sql q;
    char *text;

    if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) == 0 ||
        cJSON_GetArraySize(ids) > TEAM_DELETE_MAX) {
        sl_request_respond_error(r, 400, "bad_request_error", "team_ids",
                                 "Pass {\"team_ids\": [\"<team_id>\", ...]} with 1 to %d ids.",
                                 TEAM_DELETE_MAX);
        return;
    }
    cJSON_ArrayForEach(el, ids)
    {
        if (!cJSON_IsString(el) || strlen(el->valuestring) > SL_MGMT_ID_MAX) {
            sl_mgmt_respond_bad_field(r, "team_ids", "a list of team ids");
            return;
        }
    }
    text = sl_json_print(ids);
    sl_mgmt_sql_init(&q);
    sl_mgmt__team_sql_delete(&q, caller, text);
    sl_mgmt_run(r, &q, &team_ops, call_create(TEAM_DELETE, caller, NULL));
    free(text);
}

/* ---------------------------------------------------------------- info, list */

static void
team_info(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;
    char *team_id = NULL;

    (void)body;
    if (!sl_mgmt_query_param(r, "team_id", &team_id))
        return;
    if (team_id == NULL || team_id[0] == '\0' || strlen(team_id) > SL_MGMT_ID_MAX) {
        sl_request_respond_error(r, 400, "bad_request_error", "team_id",
                                 "Pass ?team_id=<id> of at most %d bytes.", SL_MGMT_ID_MAX);
        goto out;
    }
    sl_mgmt_sql_init(&q);
    sl_mgmt__team_sql_info(&q, caller, team_id);
    sl_mgmt_run(r, &q, &team_ops, call_create(TEAM_INFO, caller, team_id));
out:
    free(team_id);
}

static void
team_list(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;
    char *user_id = NULL;
    char *org_id = NULL;

    (void)body;
    if (!sl_mgmt_query_param(r, "user_id", &user_id) ||
        !sl_mgmt_query_param(r, "organization_id", &org_id))
        goto out;
    if (!caller->admin) {
        /* Callers other than admins get only the teams they are a member of. */
        if (user_id != NULL && strcmp(user_id, caller->user_id) != 0) {
            sl_request_respond_error(r, 403, "auth_error", "user_id",
                                     "Only proxy_admin or proxy_admin_viewer can list the teams "
                                     "of another user. Your role=%s.",
                                     caller->role[0] != '\0' ? caller->role : "None");
            goto out;
        }
        free(user_id);
        user_id = sl_xstrdup(caller->user_id);
    }
    sl_mgmt_sql_init(&q);
    sl_mgmt__team_sql_list(&q, user_id, org_id);
    sl_mgmt_run(r, &q, &team_ops, call_create(TEAM_LIST, caller, NULL));
out:
    free(user_id);
    free(org_id);
}

/* ---------------------------------------------------------------- members */

static void
member_add(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_team_input in = {0};
    struct sl_mgmt_sql q;
    struct team_call *c;
    char *members = NULL;
    int single;

    if (!check_not_viewer(r, caller))
        return;
    in.team_id = required_team_id(r, body);
    if (in.team_id == NULL ||
        !parse_members(r, cJSON_GetObjectItemCaseSensitive(body, "member"), "member", 1, 1,
                       &members, &single) ||
        /* max_budget_in_team only, the first of the membership fields. */
        !parse_values(r, body, sl_mgmt__membership_fields, 1, &in.membership))
        goto out;
    in.members = members;
    in.max_budget_in_team = sl_mgmt_value(&in.membership, sl_mgmt__membership_fields,
                                          "max_budget_in_team");

    sl_mgmt_sql_init(&q);
    sl_mgmt__team_sql_member_add(&q, caller, &in);
    c = call_create(TEAM_MEMBER_ADD, caller, in.team_id);
    c->single_member = single;
    sl_mgmt_run(r, &q, &team_ops, c);
out:
    input_dispose(&in);
    free(members);
}

/* Reads the user_id or user_email that names a member. Returns 0 with the 400 sent. */
static int
parse_member_ref(struct sl_request *r, const cJSON *body, struct sl_mgmt_team_input *in)
{
    int bad;

    in->user_id = sl_mgmt_body_string(r, body, "user_id", SL_MGMT_ID_MAX, &bad);
    if (bad)
        return 0;
    in->user_email = sl_mgmt_body_string(r, body, "user_email", SL_MGMT_ID_MAX, &bad);
    if (bad)
        return 0;
    if (in->user_id == NULL && in->user_email == NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "user_id",
                              "Either user_id or user_email needs to be passed in.");
        return 0;
    }
    return 1;
}

static void
member_delete(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_team_input in = {0};
    struct sl_mgmt_sql q;

    if (!check_not_viewer(r, caller))
        return;
    in.team_id = required_team_id(r, body);
    if (in.team_id == NULL || !parse_member_ref(r, body, &in))
        return;
    sl_mgmt_sql_init(&q);
    sl_mgmt__team_sql_member_delete(&q, caller, &in);
    sl_mgmt_run(r, &q, &team_ops, call_create(TEAM_MEMBER_DELETE, caller, in.team_id));
}

static void
member_update(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_team_input in = {0};
    struct sl_mgmt_sql q;
    int bad;

    if (!check_not_viewer(r, caller))
        return;
    in.team_id = required_team_id(r, body);
    if (in.team_id == NULL || !parse_member_ref(r, body, &in))
        return;
    in.role = sl_mgmt_body_string(r, body, "role", 16, &bad);
    if (bad)
        return;
    if (in.role != NULL && strcmp(in.role, "admin") != 0 && strcmp(in.role, "user") != 0) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "role",
                              "role must be \"admin\" or \"user\".");
        return;
    }
    if (!parse_values(r, body, sl_mgmt__membership_fields, sl_mgmt__n_membership_fields,
                      &in.membership))
        goto out;
    sl_mgmt_sql_init(&q);
    sl_mgmt__team_sql_member_update(&q, caller, &in);
    sl_mgmt_run(r, &q, &team_ops, call_create(TEAM_MEMBER_UPDATE, caller, in.team_id));
out:
    input_dispose(&in);
}

const struct sl_mgmt_route sl_mgmt_team_routes[] = {
    {"/team/new", "POST", SL_MGMT_ADMIN, team_new},
    {"/team/update", "POST", SL_MGMT_SELF, team_update},
    {"/team/block", "POST", SL_MGMT_ADMIN, team_block},
    {"/team/unblock", "POST", SL_MGMT_ADMIN, team_unblock},
    {"/team/delete", "POST", SL_MGMT_ADMIN, team_delete},
    {"/team/info", "GET", SL_MGMT_INFO, team_info},
    {"/team/list", "GET", SL_MGMT_INFO, team_list},
    {"/team/member_add", "POST", SL_MGMT_SELF, member_add},
    {"/team/member_delete", "POST", SL_MGMT_SELF, member_delete},
    {"/team/member_update", "POST", SL_MGMT_SELF, member_update},
    {NULL, NULL, SL_MGMT_ADMIN, NULL},
};
