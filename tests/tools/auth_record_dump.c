/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_record_dump -- reads one virtual-key record as stored in Redis (msgpack) from stdin,
 * decodes it with sl_auth_record_decode() and prints its limits as one JSON object, so the
 * integration tests can check what the gateway stored. Unset limits print as null. Exits 1
 * when the bytes are not a record.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "gateway/auth/keys.h"

/* Maximum input size, in bytes. */
#define DUMP_INPUT_MAX (16 * 1024 * 1024)

static void
add_count(cJSON *obj, const char *name, int64_t v)
{
    if (v < 0)
        cJSON_AddNullToObject(obj, name);
    else
        cJSON_AddNumberToObject(obj, name, (double)v);
}

static void
add_money(cJSON *obj, const char *name, double v)
{
    if (isnan(v))
        cJSON_AddNullToObject(obj, name);
    else
        cJSON_AddNumberToObject(obj, name, v);
}

static void
add_limits(cJSON *root, const char *name, const struct sl_auth_limits *l)
{
    cJSON *obj = cJSON_AddObjectToObject(root, name);

    add_count(obj, "rpm_limit", l->rpm_limit);
    add_count(obj, "tpm_limit", l->tpm_limit);
    add_count(obj, "max_parallel_requests", l->max_parallel_requests);
    add_money(obj, "max_budget", l->max_budget);
    add_money(obj, "soft_budget", l->soft_budget);
    if (l->budget_duration == NULL)
        cJSON_AddNullToObject(obj, "budget_duration");
    else
        cJSON_AddStringToObject(obj, "budget_duration", l->budget_duration);
}

/* Adds per-model limits as {"<model>": {"rpm_limit": n|null, "tpm_limit": n|null}}. */
static void
add_model_limits(cJSON *root, const char *name, const struct sl_auth_model_limits *m)
{
    cJSON *obj = cJSON_AddObjectToObject(root, name);

    for (size_t i = 0; i < m->n; i++) {
        cJSON *entry = cJSON_AddObjectToObject(obj, m->items[i].model);

        add_count(entry, "rpm_limit", m->items[i].rpm_limit);
        add_count(entry, "tpm_limit", m->items[i].tpm_limit);
    }
}

int
main(void)
{
    struct sl_buf in;
    struct sl_auth_record rec;
    char chunk[4096];
    size_t n;
    cJSON *root;
    char *text;

    sl_buf_init(&in, DUMP_INPUT_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        if (sl_buf_append(&in, chunk, n) != SL_OK) {
            fprintf(stderr, "auth_record_dump: input is over %d bytes\n", DUMP_INPUT_MAX);
            return 1;
        }
    }
    if (sl_auth_record_decode(in.data, in.len, &rec) != SL_OK) {
        fprintf(stderr, "auth_record_dump: the %zu bytes on stdin are not an auth record\n",
                in.len);
        return 1;
    }

    root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "token", rec.token);
    cJSON_AddBoolToObject(root, "has_user", rec.has_user);
    cJSON_AddBoolToObject(root, "has_team", rec.has_team);
    cJSON_AddBoolToObject(root, "has_member", rec.has_member);
    cJSON_AddBoolToObject(root, "has_org", rec.has_org);
    add_limits(root, "key_limits", &rec.key_limits);
    add_limits(root, "user_limits", &rec.user_limits);
    add_limits(root, "team_limits", &rec.team_limits);
    add_limits(root, "member_limits", &rec.member_limits);
    add_limits(root, "org_limits", &rec.org_limits);
    add_model_limits(root, "key_model_limits", &rec.key_model_limits);
    add_model_limits(root, "team_model_limits", &rec.team_model_limits);
    text = cJSON_PrintUnformatted(root);
    puts(text);

    free(text);
    cJSON_Delete(root);
    sl_auth_record_dispose(&rec);
    sl_buf_dispose(&in);
    return 0;
}
