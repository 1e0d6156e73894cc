/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spend_event_write -- reads spend events as JSON lines on stdin, one object per line with the
 * msgpack field names of common/spend_event.h ("periods": [[scope, id, start_s], ...]), and
 * writes each one encoded by sl_spend_event_encode() to stdout as a hex line. The integration
 * tests XADD the decoded bytes into <prefix>spend:events, as the gateway's settlement does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/spend_event.h"
#include "common/xalloc.h"

/* Maximum input line length, in bytes. */
#define LINE_MAX_BYTES (1024 * 1024)

static char *
get_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? sl_xstrdup(v->valuestring) : NULL;
}

static int64_t
get_int(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static int
get_bool(const cJSON *obj, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, name));
}

static void
from_json(const cJSON *o, struct sl_spend_event *ev)
{
    const cJSON *periods = cJSON_GetObjectItemCaseSensitive(o, "periods");
    const cJSON *p;

    ev->request_id = get_str(o, "id");
    ev->call_type = get_str(o, "call_type");
    ev->key_hash = get_str(o, "key");
    ev->key_alias = get_str(o, "key_alias");
    ev->user_id = get_str(o, "user");
    ev->team_id = get_str(o, "team");
    ev->org_id = get_str(o, "org");
    ev->end_user = get_str(o, "end_user");
    ev->model_group = get_str(o, "model_group");
    ev->model = get_str(o, "model");
    ev->provider = get_str(o, "provider");
    ev->start_ms = get_int(o, "start");
    ev->end_ms = get_int(o, "end");
    ev->prompt_tokens = get_int(o, "prompt");
    ev->completion_tokens = get_int(o, "completion");
    ev->http_status = (int)get_int(o, "status");
    ev->success = get_bool(o, "ok");
    ev->priced = get_bool(o, "priced");
    ev->cost = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "cost"));
    if (ev->cost != ev->cost)
        ev->cost = 0;
    cJSON_ArrayForEach(p, periods)
    {
        if (ev->n_periods == SL_SPEND_EVENT_MAX_PERIODS || cJSON_GetArraySize(p) != 3)
            break;
        ev->periods[ev->n_periods].scope = sl_xstrdup(cJSON_GetArrayItem(p, 0)->valuestring);
        ev->periods[ev->n_periods].id = sl_xstrdup(cJSON_GetArrayItem(p, 1)->valuestring);
        ev->periods[ev->n_periods].start_s = (int64_t)cJSON_GetArrayItem(p, 2)->valuedouble;
        ev->n_periods++;
    }
}

int
main(void)
{
    char *line = sl_xmalloc(LINE_MAX_BYTES);

    while (fgets(line, LINE_MAX_BYTES, stdin) != NULL) {
        struct sl_spend_event ev;
        struct sl_buf out;
        cJSON *o = cJSON_Parse(line);

        if (o == NULL || !cJSON_IsObject(o)) {
            fprintf(stderr, "spend_event_write: invalid JSON line\n");
            free(line);
            return 1;
        }
        memset(&ev, 0, sizeof(ev));
        from_json(o, &ev);
        sl_buf_init(&out, 0);
        sl_spend_event_encode(&ev, &out);
        for (size_t i = 0; i < out.len; i++)
            printf("%02x", (unsigned char)out.data[i]);
        printf("\n");
        sl_buf_dispose(&out);
        sl_spend_event_dispose(&ev);
        cJSON_Delete(o);
    }
    free(line);
    return 0;
}
