/* SPDX-License-Identifier: Apache-2.0 */
/* wildcard -- model groups whose name is a pattern with '*'; see wildcard.h. */
#include "gateway/router/wildcard.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "gateway/providers/provider.h"

/* A copy of a pattern's deployment and the strings it owns. */
struct sl_wildcard_copy {
    struct sl_deployment d;
    char *model;
    char *provider;
    char *provider_model;
    char *api_key;  /* set only when the copy's provider differs from its pattern's */
    char *api_base; /* likewise */
};

/* ---------------------------------------------------------------- pure parts */

static size_t
count_stars(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += *s == '*';
    return n;
}

/* Returns the first place of the `len` bytes of `needle` in name[from, to), or (size_t)-1. */
static size_t
find_literal(const char *name, size_t from, size_t to, const char *needle, size_t len)
{
    for (size_t i = from; i + len <= to; i++)
        if (memcmp(name + i, needle, len) == 0)
            return i;
    return (size_t)-1;
}

int
sl_wildcard_match(const char *pattern, const char *name, struct sl_wildcard_captures *caps)
{
    size_t stars = count_stars(pattern);
    size_t name_len = strlen(name);
    const char *first_star = strchr(pattern, '*');
    const char *last_star = strrchr(pattern, '*');
    size_t head_len;
    size_t tail_len;
    size_t pos;
    size_t end;
    const char *seg;

    memset(caps, 0, sizeof(*caps));
    if (stars == 0 || stars > SL_WILDCARD_MAX_STARS || name_len > SL_WILDCARD_NAME_MAX)
        return 0;

    /* The text before the first '*' and after the last one must be the name's ends. */
    head_len = (size_t)(first_star - pattern);
    tail_len = strlen(last_star + 1);
    if (head_len + tail_len > name_len || memcmp(name, pattern, head_len) != 0 ||
        memcmp(name + name_len - tail_len, last_star + 1, tail_len) != 0)
        return 0;

    /* Each literal part between two '*'s takes its first place after the previous part. */
    pos = head_len;
    end = name_len - tail_len;
    seg = first_star + 1;
    while (seg <= last_star) {
        const char *next_star = strchr(seg, '*');
        size_t seg_len = (size_t)(next_star - seg);
        size_t at = find_literal(name, pos, end, seg, seg_len);

        if (at == (size_t)-1)
            return 0;
        caps->offset[caps->n] = pos;
        caps->len[caps->n] = at - pos;
        caps->n++;
        pos = at + seg_len;
        seg = next_star + 1;
    }
    /* The last '*' takes what is left before the tail. */
    if (pos > end)
        return 0;
    caps->offset[caps->n] = pos;
    caps->len[caps->n] = end - pos;
    caps->n++;
    return 1;
}

char *
sl_wildcard_expand(const char *model, const char *name, const struct sl_wildcard_captures *caps)
{
    struct sl_buf out;
    size_t next = 0;
    char *text;
    size_t len;

    if (strchr(model, '*') == NULL)
        return sl_xstrdup(model);
    if (count_stars(model) < caps->n)
        return sl_xstrdup(name);

    sl_buf_init(&out, 0);
    for (const char *p = model; *p != '\0'; p++) {
        if (*p == '*' && next < caps->n) {
            sl_buf_append(&out, name + caps->offset[next], caps->len[next]);
            next++;
            continue;
        }
        sl_buf_append(&out, p, 1);
    }
    text = sl_buf_take(&out, &len);
    return text != NULL ? text : sl_xstrdup("");
}

const struct sl_model_group *
sl_wildcard_find(const struct sl_router *r, const char *name)
{
    const struct sl_model_group *best = NULL;
    size_t best_len = 0;

    for (size_t i = 0; i < r->n_groups; i++) {
        const struct sl_model_group *g = &r->groups[i];
        struct sl_wildcard_captures caps;
        size_t len = strlen(g->name);

        if (g->n == 0 || (best != NULL && len <= best_len))
            continue;
        if (!sl_wildcard_match(g->name, name, &caps))
            continue;
        best = g;
        best_len = len;
    }
    return best;
}

/* ---------------------------------------------------------------- per request */

/* Fills `c` from the pattern deployment `src` for the requested `name`. */
static enum sl_status
copy_deployment(struct sl_wildcard_copy *c, const struct sl_deployment *src, const char *group,
                const char *name, const struct sl_wildcard_captures *caps, struct sl_errbuf *err)
{
    const char *slash;
    char where[64];

    c->d = *src;
    c->d.model_name = (char *)group;
    c->model = sl_wildcard_expand(src->model, name, caps);
    slash = strchr(c->model, '/');
    if (slash == NULL) {
        c->provider = sl_xstrdup("openai");
        c->provider_model = sl_xstrdup(c->model);
    } else {
        c->provider = sl_xstrndup(c->model, (size_t)(slash - c->model));
        c->provider_model = sl_xstrdup(slash + 1);
    }
    c->d.model = c->model;
    c->d.provider = c->provider;
    c->d.provider_model = c->provider_model;
    if (c->provider_model[0] == '\0' || c->provider[0] == '\0') {
        sl_errbuf_set(err, "model: \"%s\" does not name a model for deployment group \"%s\" "
                           "(expected provider/name)", name, src->model_name);
        return SL_ERR_INVALID;
    }
    if (strcmp(c->provider, src->provider) == 0)
        return SL_OK;

    /* Another provider than the pattern's: the pattern's credentials are not for it. */
    c->d.api_key = NULL;
    c->d.api_base = NULL;
    snprintf(where, sizeof(where), "model group \"%.40s\"", src->model_name);
    if (sl_router_check_deployment(&c->d, where, err) != SL_OK) {
        c->api_key = c->d.api_key;
        c->api_base = c->d.api_base;
        return SL_ERR_INVALID;
    }
    c->api_key = c->d.api_key;
    c->api_base = c->d.api_base;
    return SL_OK;
}

enum sl_status
sl_wildcard_group_create(const struct sl_model_group *pattern, const char *name,
                         struct sl_wildcard_group **out, struct sl_errbuf *err)
{
    struct sl_wildcard_group *g = sl_xcalloc(1, sizeof(*g));
    struct sl_wildcard_captures caps;
    const struct sl_deployment **list;
    char *group_name;
    enum sl_status rc = SL_OK;

    *out = NULL;
    if (!sl_wildcard_match(pattern->name, name, &caps)) {
        free(g);
        sl_errbuf_set(err, "model: \"%s\" does not match model group \"%s\"", name,
                      pattern->name);
        return SL_ERR_INVALID;
    }
    group_name = sl_xstrdup(name);
    list = sl_xcalloc(pattern->n + 1, sizeof(*list));
    g->copies = sl_xcalloc(pattern->n + 1, sizeof(*g->copies));
    g->group.name = group_name;
    g->pattern = pattern->name;
    g->group.deployments = list;
    g->group.total_weight = pattern->total_weight;
    for (size_t i = 0; i < pattern->n; i++) {
        rc = copy_deployment(&g->copies[i], pattern->deployments[i], group_name, name, &caps,
                             err);
        list[i] = &g->copies[i].d;
        g->group.n++;
        if (rc != SL_OK)
            break;
    }
    if (rc != SL_OK) {
        sl_wildcard_group_destroy(g);
        return rc;
    }
    *out = g;
    return SL_OK;
}

void
sl_wildcard_group_destroy(struct sl_wildcard_group *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->group.n; i++) {
        struct sl_wildcard_copy *c = &g->copies[i];

        free(c->model);
        free(c->provider);
        free(c->provider_model);
        free(c->api_key);
        free(c->api_base);
    }
    free(g->copies);
    free((void *)g->group.deployments);
    free((char *)g->group.name);
    free(g);
}

const struct sl_model_group *
sl_wildcard_resolve(const struct sl_router *r, const char *name, struct sl_wildcard_group **owned,
                    struct sl_errbuf *err)
{
    const struct sl_model_group *exact;
    const struct sl_model_group *pattern;

    *owned = NULL;
    err->msg[0] = '\0';
    if (name == NULL)
        return NULL;
    exact = sl_router_find(r, name);
    if (exact != NULL)
        return exact;
    pattern = sl_wildcard_find(r, name);
    if (pattern == NULL)
        return NULL;
    if (sl_wildcard_group_create(pattern, name, owned, err) != SL_OK)
        return NULL;
    return &(*owned)->group;
}
