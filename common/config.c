/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config -- reads config.yaml with libyaml's document API and walks it against the option
 * table in config_table.c. It runs on the thread that loads the config, at startup or on
 * reload. The walk builds a private struct sl_config and hands it over only on success.
 */
#include "common/config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/config_internal.h"
#include "common/json.h"
#include "common/xalloc.h"

#define SL_CONFIG_ENV_PREFIX "os.environ/"

/* Aliases let a small file name the same subtree many times, so the walk has its own budget
 * of nodes visited and bytes copied, far above what any real config needs. */
#define SL_CONFIG_MAX_VISITS 1000000u
#define SL_CONFIG_MAX_COPIED_BYTES (16u * SL_CONFIG_MAX_BYTES)

/* Depth of nested lists and maps rendered for the deployment id (an alias may form a cycle). */
#define SL_CONFIG_MAX_RENDER_DEPTH 32

/* Unknown keys listed in struct sl_config; the rest are dropped after one marker entry. */
#define SL_CONFIG_MAX_UNKNOWN_KEYS 100

#define SL_CONFIG_MAX_PATH 1024

struct loader {
    const char *name; /* file name for messages */
    yaml_document_t *doc;
    struct sl_config *cfg;
    struct sl_errbuf *err;
    size_t visits;
    size_t copied_bytes;

    /* The scope being walked: the whole file or one model_list item. */
    enum sl_config_scope scope;
    void *base;                 /* struct sl_config or struct sl_deployment */
    char prefix[48];            /* "" or "model_list[3]" for messages */
    struct sl_buf path;         /* key path inside the scope, e.g. "litellm_params.timeout" */
    unsigned char *seen;        /* per option: already set in this scope (duplicate keys) */
};

enum scalar_kind {
    SCALAR_VALUE,     /* text is set */
    SCALAR_NULL,      /* ~, null or an empty plain scalar: the key is treated as absent */
    SCALAR_ENV_UNSET, /* os.environ/NAME with NAME unset, on an option that allows it */
};

/* ---------------------------------------------------------------------------------------- */
/* Messages                                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* Writes "file:line:column: prefix.path: message" into ld->err; returns SL_ERR_CONFIG. */
__attribute__((format(printf, 3, 4))) static enum sl_status
fail(struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
    char msg[400];
    char where[64] = "";
    const char *path = ld->path.data != NULL ? ld->path.data : "";
    const char *dot = ld->prefix[0] != '\0' && path[0] != '\0' ? "." : "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (node != NULL)
        snprintf(where, sizeof(where), ":%zu:%zu", node->start_mark.line + 1,
                 node->start_mark.column + 1);
    if (ld->prefix[0] == '\0' && path[0] == '\0')
        sl_errbuf_set(ld->err, "%s%s: %s", ld->name, where, msg);
    else
        sl_errbuf_set(ld->err, "%s%s: %s%s%s: %s", ld->name, where, ld->prefix, dot, path, msg);
    return SL_ERR_CONFIG;
}

static const char *
node_kind(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "a single value";
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Scalars and os.environ/ references                                                       */
/* ---------------------------------------------------------------------------------------- */

static enum sl_status
charge(struct loader *ld, const yaml_node_t *node, size_t bytes)
{
    ld->visits++;
    ld->copied_bytes += bytes;
    if (ld->visits > SL_CONFIG_MAX_VISITS || ld->copied_bytes > SL_CONFIG_MAX_COPIED_BYTES)
        return fail(ld, node, "too many nodes after expanding aliases (is an alias repeated "
                              "many times?)");
    return SL_OK;
}

static int
is_null_scalar(const yaml_node_t *node)
{
    const char *v = (const char *)node->data.scalar.value;

    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static int
is_env_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (s++; *s != '\0'; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    }
    return 1;
}

/* Returns the raw text of a scalar node, rejecting an embedded NUL ("\0" in double quotes). */
static enum sl_status
raw_scalar(struct loader *ld, const yaml_node_t *node, const char **text)
{
    const char *v = (const char *)node->data.scalar.value;
    enum sl_status rc = charge(ld, node, node->data.scalar.length);

    if (rc != SL_OK)
        return rc;
    if (strlen(v) != node->data.scalar.length)
        return fail(ld, node, "invalid value (contains a NUL character)");
    *text = v;
    return SL_OK;
}

/*
 * Reads a scalar node, replacing os.environ/NAME by getenv(NAME). `*text` is borrowed from the
 * document or the environment. A missing variable fails the load unless `env_optional`; then
 * the variable is listed once in cfg->unset_env and `*kind` is SCALAR_ENV_UNSET.
 */
static enum sl_status
resolve_scalar(struct loader *ld, const yaml_node_t *node, int env_optional, const char **text,
               enum scalar_kind *kind)
{
    const char *v = NULL;
    const char *name;
    enum sl_status rc = raw_scalar(ld, node, &v);

    if (rc != SL_OK)
        return rc;
    if (is_null_scalar(node)) {
        *kind = SCALAR_NULL;
        return SL_OK;
    }
    if (strncmp(v, SL_CONFIG_ENV_PREFIX, strlen(SL_CONFIG_ENV_PREFIX)) != 0) {
        *text = v;
        *kind = SCALAR_VALUE;
        return SL_OK;
    }

    name = v + strlen(SL_CONFIG_ENV_PREFIX);
    if (!is_env_name(name))
        return fail(ld, node, "invalid environment variable name in \"%.80s\" (expected "
                              "os.environ/NAME with letters, digits and _)", v);
    *text = getenv(name);
    if (*text != NULL) {
        *kind = SCALAR_VALUE;
        return SL_OK;
    }
    if (!env_optional)
        return fail(ld, node, "environment variable %s is not set (referenced as %s)", name, v);

    *kind = SCALAR_ENV_UNSET;
    for (size_t i = 0; i < ld->cfg->unset_env.n; i++) {
        if (strcmp(ld->cfg->unset_env.items[i], name) == 0)
            return SL_OK;
    }
    ld->cfg->unset_env.items = sl_xrealloc(ld->cfg->unset_env.items,
                                           (ld->cfg->unset_env.n + 1) * sizeof(char *));
    ld->cfg->unset_env.items[ld->cfg->unset_env.n++] = sl_xstrdup(name);
    return SL_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Options                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static void
strlist_push(struct sl_strlist *list, const char *s)
{
    list->items = sl_xrealloc(list->items, (list->n + 1) * sizeof(char *));
    list->items[list->n++] = sl_xstrdup(s);
}

/* Lists the current key path once, as "model_list[].x" inside a deployment. */
static void
add_unknown(struct loader *ld)
{
    struct sl_strlist *list = &ld->cfg->unknown_keys;
    char key[SL_CONFIG_MAX_PATH + 16];

    snprintf(key, sizeof(key), "%s%s", ld->scope == SL_CONFIG_DEPLOYMENT ? "model_list[]." : "",
             ld->path.data);
    for (size_t i = 0; i < list->n; i++) {
        if (strcmp(list->items[i], key) == 0)
            return;
    }
    if (list->n < SL_CONFIG_MAX_UNKNOWN_KEYS)
        strlist_push(list, key);
    else if (list->n == SL_CONFIG_MAX_UNKNOWN_KEYS)
        strlist_push(list, "(more unknown keys not listed)");
}

static int
has_control_chars(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 1;
    }
    return 0;
}

static enum sl_status
set_strlist(struct loader *ld, const struct sl_config_option *opt, const yaml_node_t *node)
{
    struct sl_strlist *slot = (struct sl_strlist *)(void *)((char *)ld->base + opt->offset);
    struct sl_strlist next = {NULL, 0};
    enum sl_status rc = SL_OK;

    /* A null value means the key is absent, so the list keeps its default. */
    if (node->type == YAML_SCALAR_NODE && is_null_scalar(node))
        return SL_OK;
    if (node->type != YAML_SEQUENCE_NODE) {
        rc = fail(ld, node, "expected a list, e.g. [a, b], found %s", node_kind(node));
        goto out;
    }
    for (yaml_node_item_t *it = node->data.sequence.items.start;
         it < node->data.sequence.items.top; it++) {
        const yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
        const char *text = NULL;
        enum scalar_kind kind;

        if (item == NULL || item->type != YAML_SCALAR_NODE) {
            rc = fail(ld, item, "list items must be single values, found %s",
                      item != NULL ? node_kind(item) : "nothing");
            goto out;
        }
        rc = resolve_scalar(ld, item, 0, &text, &kind);
        if (rc != SL_OK)
            goto out;
        if (kind != SCALAR_VALUE || text[0] == '\0')
            continue; /* an empty item names nothing */
        if (has_control_chars(text)) {
            rc = fail(ld, item, "invalid list item (control characters are not allowed)");
            goto out;
        }
        strlist_push(&next, text);
    }

out:
    if (rc == SL_OK) {
        sl_config__strlist_dispose(slot);
        *slot = next;
    } else {
        sl_config__strlist_dispose(&next);
    }
    return rc;
}

/* A header name is an RFC 9110 token. */
static int
is_header_name(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s) != NULL))
            return 0;
    }
    return 1;
}

static void
headers_free(struct sl_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

/* Reads one "name: value" pair of extra_headers into h[*n]. Values are resolved like any
 * string; CR and LF are rejected so that a value cannot add headers of its own. */
static enum sl_status
read_header(struct loader *ld, const yaml_node_pair_t *pair, struct sl_header *h, size_t *n)
{
    const yaml_node_t *key = yaml_document_get_node(ld->doc, pair->key);
    const yaml_node_t *value = yaml_document_get_node(ld->doc, pair->value);
    const char *name = NULL;
    const char *text = NULL;
    enum scalar_kind kind;
    enum sl_status rc;

    if (key == NULL || value == NULL || key->type != YAML_SCALAR_NODE ||
        value->type != YAML_SCALAR_NODE)
        return fail(ld, key, "expected a map of header names to single values");
    rc = raw_scalar(ld, key, &name);
    if (rc != SL_OK)
        return rc;
    if (!is_header_name(name))
        return fail(ld, key, "invalid header name \"%.80s\"", name);
    for (size_t i = 0; i < *n; i++) {
        if (strcasecmp(h[i].name, name) == 0)
            return fail(ld, key, "duplicate header \"%s\"", name);
    }
    rc = resolve_scalar(ld, value, 0, &text, &kind);
    if (rc != SL_OK)
        return rc;
    if (kind != SCALAR_VALUE)
        text = "";
    if (has_control_chars(text))
        return fail(ld, value, "invalid value of header \"%s\" (control characters are not "
                               "allowed)", name);

    h[*n].name = sl_xstrdup(name);
    h[*n].value = sl_xstrdup(text);
    (*n)++;
    return SL_OK;
}

static enum sl_status
set_headers(struct loader *ld, const struct sl_config_option *opt, const yaml_node_t *node)
{
    struct sl_header **slot = (struct sl_header **)(void *)((char *)ld->base + opt->offset);
    size_t *count = (size_t *)(void *)((char *)ld->base + opt->aux);
    struct sl_header *next = NULL;
    size_t n = 0;
    enum sl_status rc = SL_OK;

    if (node->type == YAML_SCALAR_NODE && is_null_scalar(node))
        goto out;
    if (node->type != YAML_MAPPING_NODE) {
        rc = fail(ld, node, "expected a map of header names to values, found %s",
                  node_kind(node));
        goto out;
    }
    next = sl_xcalloc((size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start) + 1,
                      sizeof(*next));
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        rc = read_header(ld, pair, next, &n);
        if (rc != SL_OK)
            goto out;
    }

out:
    if (rc == SL_OK) {
        headers_free(*slot, *count);
        *slot = next;
        *count = n;
    } else {
        headers_free(next, n);
    }
    return rc;
}

/* Reads one {group: [target, ...]} entry of a fallbacks list into `out`. */
static enum sl_status
read_fallback(struct loader *ld, const yaml_node_t *item, struct sl_fallback *out)
{
    const yaml_node_pair_t *pair;
    const yaml_node_t *key;
    const yaml_node_t *value;
    const char *name = NULL;
    struct sl_config_option targets = {.type = SL_CONFIG_T_STRLIST, .offset = 0};
    void *saved = ld->base;
    enum sl_status rc;

    if (item == NULL || item->type != YAML_MAPPING_NODE ||
        item->data.mapping.pairs.top - item->data.mapping.pairs.start != 1)
        return fail(ld, item, "each fallbacks entry must be a map with one key, e.g. "
                              "{gpt-4o: [gpt-4o-mini]}");
    pair = item->data.mapping.pairs.start;
    key = yaml_document_get_node(ld->doc, pair->key);
    value = yaml_document_get_node(ld->doc, pair->value);
    if (key == NULL || value == NULL || key->type != YAML_SCALAR_NODE)
        return fail(ld, item, "a fallbacks entry's key must be a model group name");
    rc = raw_scalar(ld, key, &name);
    if (rc != SL_OK)
        return rc;
    if (name[0] == '\0' || has_control_chars(name))
        return fail(ld, key, "invalid model group name in fallbacks");

    /* The targets are a plain list of strings, read by the list setter. */
    out->group = sl_xstrdup(name);
    ld->base = &out->targets;
    rc = set_strlist(ld, &targets, value);
    ld->base = saved;
    return rc;
}

static enum sl_status
set_fallbacks(struct loader *ld, const struct sl_config_option *opt, const yaml_node_t *node)
{
    struct sl_fallbacks *slot = (struct sl_fallbacks *)(void *)((char *)ld->base + opt->offset);
    struct sl_fallbacks next = {NULL, 0};
    enum sl_status rc = SL_OK;

    if (node->type == YAML_SCALAR_NODE && is_null_scalar(node))
        return SL_OK;
    if (node->type != YAML_SEQUENCE_NODE) {
        rc = fail(ld, node, "expected a list of maps, e.g. [{gpt-4o: [gpt-4o-mini]}], found %s",
                  node_kind(node));
        goto out;
    }
    next.items = sl_xcalloc((size_t)(node->data.sequence.items.top -
                                     node->data.sequence.items.start) + 1,
                            sizeof(*next.items));
    for (yaml_node_item_t *it = node->data.sequence.items.start;
         it < node->data.sequence.items.top; it++) {
        rc = read_fallback(ld, yaml_document_get_node(ld->doc, *it), &next.items[next.n]);
        next.n++; /* counted even on failure, so the dispose below frees a partial entry */
        if (rc != SL_OK)
            goto out;
    }

out:
    if (rc == SL_OK) {
        sl_config__fallbacks_dispose(slot);
        *slot = next;
    } else {
        sl_config__fallbacks_dispose(&next);
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Retry and allowed-fails policies                                                         */
/* ---------------------------------------------------------------------------------------- */

static const char *const error_class_names[SL_ERROR_CLASS_COUNT] = {
    [SL_ERROR_BAD_REQUEST] = "BadRequestError",
    [SL_ERROR_AUTHENTICATION] = "AuthenticationError",
    [SL_ERROR_TIMEOUT] = "TimeoutError",
    [SL_ERROR_RATE_LIMIT] = "RateLimitError",
    [SL_ERROR_CONTENT_POLICY] = "ContentPolicyViolationError",
    [SL_ERROR_INTERNAL_SERVER] = "InternalServerError",
};

const char *
sl_config_error_class_name(enum sl_error_class c)
{
    return (unsigned)c < SL_ERROR_CLASS_COUNT ? error_class_names[c] : "UnknownError";
}

/* Returns the class whose name followed by `suffix` is `key`, or -1. */
static int
policy_key_class(const char *key, const char *suffix)
{
    size_t n = strlen(suffix);

    for (int i = 0; i < SL_ERROR_CLASS_COUNT; i++) {
        size_t len = strlen(error_class_names[i]);

        if (strncmp(key, error_class_names[i], len) == 0 && strcmp(key + len, suffix) == 0 &&
            strlen(key) == len + n)
            return i;
    }
    return -1;
}

/* Reads one {<Class><suffix>: n, ...} map into `out`; the counts must lie in opt's bounds. */
static enum sl_status
read_error_policy(struct loader *ld, const struct sl_config_option *opt, const char *suffix,
                  const yaml_node_t *node, struct sl_error_policy *out)
{
    sl_config__error_policy_clear(out);
    if (node->type == YAML_SCALAR_NODE && is_null_scalar(node))
        return SL_OK;
    if (node->type != YAML_MAPPING_NODE)
        return fail(ld, node, "expected a map of error classes to counts, e.g. {RateLimitError%s: "
                              "3}, found %s", suffix, node_kind(node));
    out->set = 1;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = yaml_document_get_node(ld->doc, pair->key);
        const yaml_node_t *value = yaml_document_get_node(ld->doc, pair->value);
        const char *name = NULL;
        const char *text = NULL;
        enum scalar_kind kind;
        char *end = NULL;
        long long count;
        int cls;
        enum sl_status rc;

        if (key == NULL || value == NULL || key->type != YAML_SCALAR_NODE)
            return fail(ld, key, "policy keys must be single values");
        rc = raw_scalar(ld, key, &name);
        if (rc != SL_OK)
            return rc;
        cls = policy_key_class(name, suffix);
        if (cls < 0)
            return fail(ld, key, "unknown policy key \"%.80s\" (expected one of: "
                                 "BadRequestError%s, AuthenticationError%s, TimeoutError%s, "
                                 "RateLimitError%s, ContentPolicyViolationError%s, "
                                 "InternalServerError%s)",
                        name, suffix, suffix, suffix, suffix, suffix, suffix);
        if (out->counts[cls] != SL_CONFIG_UNSET_INT)
            return fail(ld, key, "duplicate key %s", name);
        if (value->type != YAML_SCALAR_NODE)
            return fail(ld, value, "%s: expected a whole number, found %s", name,
                        node_kind(value));
        rc = resolve_scalar(ld, value, 0, &text, &kind);
        if (rc != SL_OK)
            return rc;
        if (kind == SCALAR_NULL)
            continue;
        errno = 0;
        count = strtoll(text, &end, 10);
        if (text[0] < '0' || text[0] > '9' || errno != 0 || end == NULL || *end != '\0' ||
            (double)count < opt->min || (double)count > opt->max)
            return fail(ld, value, "%s: invalid count \"%.40s\" (expected a whole number from "
                                   "%g to %g)", name, text, opt->min, opt->max);
        out->counts[cls] = (int64_t)count;
    }
    return SL_OK;
}

static enum sl_status
set_error_policy(struct loader *ld, const struct sl_config_option *opt, const yaml_node_t *node)
{
    struct sl_error_policy *slot =
        (struct sl_error_policy *)(void *)((char *)ld->base + opt->offset);
    struct sl_error_policy next;
    const char *suffix = opt->type == SL_CONFIG_T_RETRY_POLICY ? "Retries" : "AllowedFails";
    enum sl_status rc = read_error_policy(ld, opt, suffix, node, &next);

    if (rc == SL_OK)
        *slot = next;
    return rc;
}

/* Reads {group: {...Retries: n}, ...}, the retry policy of each named model group. */
static enum sl_status
set_group_policies(struct loader *ld, const struct sl_config_option *opt, const yaml_node_t *node)
{
    struct sl_group_policies *slot =
        (struct sl_group_policies *)(void *)((char *)ld->base + opt->offset);
    struct sl_group_policies next = {NULL, 0};
    enum sl_status rc = SL_OK;

    if (node->type == YAML_SCALAR_NODE && is_null_scalar(node))
        return SL_OK;
    if (node->type != YAML_MAPPING_NODE) {
        rc = fail(ld, node, "expected a map of model groups to retry policies, e.g. {gpt-4o: "
                            "{RateLimitErrorRetries: 3}}, found %s", node_kind(node));
        goto out;
    }
    next.items = sl_xcalloc((size_t)(node->data.mapping.pairs.top -
                                     node->data.mapping.pairs.start) + 1,
                            sizeof(*next.items));
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = yaml_document_get_node(ld->doc, pair->key);
        const yaml_node_t *value = yaml_document_get_node(ld->doc, pair->value);
        const char *name = NULL;

        if (key == NULL || value == NULL || key->type != YAML_SCALAR_NODE) {
            rc = fail(ld, key, "a model_group_retry_policy key must be a model group name");
            goto out;
        }
        rc = raw_scalar(ld, key, &name);
        if (rc != SL_OK)
            goto out;
        if (name[0] == '\0' || has_control_chars(name)) {
            rc = fail(ld, key, "invalid model group name in model_group_retry_policy");
            goto out;
        }
        for (size_t i = 0; i < next.n; i++) {
            if (strcmp(next.items[i].group, name) == 0) {
                rc = fail(ld, key, "duplicate model group %.80s", name);
                goto out;
            }
        }
        next.items[next.n].group = sl_xstrdup(name);
        rc = read_error_policy(ld, opt, "Retries", value, &next.items[next.n].policy);
        next.n++;
        if (rc != SL_OK)
            goto out;
    }

out:
    if (rc == SL_OK) {
        sl_config__group_policies_dispose(slot);
        *slot = next;
    } else {
        sl_config__group_policies_dispose(&next);
    }
    return rc;
}

const struct sl_error_policy *
sl_config_retry_policy(const struct sl_config *cfg, const char *group)
{
    for (size_t i = 0; group != NULL && i < cfg->model_group_retry_policy.n; i++)
        if (strcmp(cfg->model_group_retry_policy.items[i].group, group) == 0)
            return &cfg->model_group_retry_policy.items[i].policy;
    return &cfg->retry_policy;
}

static enum sl_status
apply_option(struct loader *ld, const struct sl_config_option *opt, const yaml_node_t *node)
{
    struct sl_errbuf why;
    const char *text = NULL;
    enum scalar_kind kind;
    int env_optional = (opt->flags & SL_CONFIG_ENV_OPTIONAL) && opt->type == SL_CONFIG_T_STRING;
    enum sl_status rc;

    if (opt->type == SL_CONFIG_T_MISPLACED)
        return fail(ld, node, "%s", opt->doc);
    if (opt->type == SL_CONFIG_T_STRLIST)
        return set_strlist(ld, opt, node);
    if (opt->type == SL_CONFIG_T_HEADERS)
        return set_headers(ld, opt, node);
    if (opt->type == SL_CONFIG_T_FALLBACKS)
        return set_fallbacks(ld, opt, node);
    if (opt->type == SL_CONFIG_T_RETRY_POLICY || opt->type == SL_CONFIG_T_ALLOWED_FAILS_POLICY)
        return set_error_policy(ld, opt, node);
    if (opt->type == SL_CONFIG_T_GROUP_RETRY_POLICY)
        return set_group_policies(ld, opt, node);
    if (node->type != YAML_SCALAR_NODE)
        return fail(ld, node, "expected a single value, found %s", node_kind(node));

    rc = resolve_scalar(ld, node, env_optional, &text, &kind);
    if (rc != SL_OK)
        return rc;
    if (kind == SCALAR_NULL)
        return SL_OK;
    if (kind == SCALAR_ENV_UNSET) {
        sl_config__unset_string(opt, ld->base);
        return SL_OK;
    }
    if (sl_config__set_scalar(opt, ld->base, text, &why) != SL_OK) {
        const char *raw = (const char *)node->data.scalar.value;

        if (text != raw)
            return fail(ld, node, "%s (from %s)", why.msg, raw);
        return fail(ld, node, "%s", why.msg);
    }
    return SL_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* The walk                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static enum sl_status walk_map(struct loader *ld, const yaml_node_t *map);

/* Handles the value of the key that ld->path names: an option, a section or an unknown key. */
static enum sl_status
visit_key(struct loader *ld, const yaml_node_t *value)
{
    const struct sl_config_option *opt = sl_config__find(ld->scope, ld->path.data);

    if (opt != NULL) {
        size_t index = (size_t)(opt - sl_config__options);

        if (ld->seen[index])
            return fail(ld, value, "duplicate key");
        ld->seen[index] = 1;
        return apply_option(ld, opt, value);
    }
    if (sl_config__is_section(ld->scope, ld->path.data)) {
        if (value->type == YAML_SCALAR_NODE && is_null_scalar(value))
            return SL_OK;
        if (value->type != YAML_MAPPING_NODE)
            return fail(ld, value, "expected a mapping, found %s", node_kind(value));
        return walk_map(ld, value);
    }
    add_unknown(ld);
    return SL_OK;
}

static enum sl_status
walk_map(struct loader *ld, const yaml_node_t *map)
{
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = yaml_document_get_node(ld->doc, pair->key);
        const yaml_node_t *value = yaml_document_get_node(ld->doc, pair->value);
        size_t saved = ld->path.len;
        const char *name = NULL;
        enum sl_status rc;

        if (key == NULL || value == NULL || key->type != YAML_SCALAR_NODE)
            return fail(ld, key, "mapping keys must be single values");
        rc = raw_scalar(ld, key, &name);
        if (rc != SL_OK)
            return rc;

        /* model_list and environment_variables are read by their own functions. */
        if (ld->scope == SL_CONFIG_GLOBAL && saved == 0 &&
            (strcmp(name, "model_list") == 0 || strcmp(name, "environment_variables") == 0))
            continue;

        if ((saved > 0 && sl_buf_append(&ld->path, ".", 1) != SL_OK) ||
            sl_buf_append_str(&ld->path, name) != SL_OK)
            return fail(ld, key, "key path too long");
        rc = visit_key(ld, value);
        ld->path.len = saved;
        ld->path.data[saved] = '\0';
        if (rc != SL_OK)
            return rc;
    }
    return SL_OK;
}

/* Starts a new scope: messages get `prefix`, options are written into `base`. */
static void
enter_scope(struct loader *ld, enum sl_config_scope scope, void *base, const char *prefix)
{
    ld->scope = scope;
    ld->base = base;
    snprintf(ld->prefix, sizeof(ld->prefix), "%s", prefix);
    sl_buf_reset(&ld->path);
    sl_buf_append(&ld->path, "", 0);
    memset(ld->seen, 0, sl_config__n_options);
}

/* Returns the top-level value of `key`, or NULL; a duplicate top-level key fails. */
static enum sl_status
find_top(struct loader *ld, const yaml_node_t *root, const char *key, const yaml_node_t **out)
{
    *out = NULL;
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        const yaml_node_t *k = yaml_document_get_node(ld->doc, pair->key);

        if (k == NULL || k->type != YAML_SCALAR_NODE ||
            strcmp((const char *)k->data.scalar.value, key) != 0)
            continue;
        if (*out != NULL)
            return fail(ld, k, "duplicate key %s", key);
        *out = yaml_document_get_node(ld->doc, pair->value);
    }
    return SL_OK;
}

/* Copies environment_variables into the environment, in file order. Values may themselves be
 * os.environ/NAME references, which must be set. */
static enum sl_status
apply_environment(struct loader *ld, const yaml_node_t *root)
{
    const yaml_node_t *map;
    enum sl_status rc = find_top(ld, root, "environment_variables", &map);

    if (rc != SL_OK || map == NULL || (map->type == YAML_SCALAR_NODE && is_null_scalar(map)))
        return rc;
    if (map->type != YAML_MAPPING_NODE)
        return fail(ld, map, "environment_variables: expected a mapping, found %s",
                    node_kind(map));

    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = yaml_document_get_node(ld->doc, pair->key);
        const yaml_node_t *value = yaml_document_get_node(ld->doc, pair->value);
        const char *name = NULL;
        const char *text = NULL;
        enum scalar_kind kind;

        if (key == NULL || value == NULL || key->type != YAML_SCALAR_NODE ||
            value->type != YAML_SCALAR_NODE)
            return fail(ld, key, "environment_variables: expected a map of names to values");
        rc = raw_scalar(ld, key, &name);
        if (rc != SL_OK)
            return rc;
        if (!is_env_name(name))
            return fail(ld, key, "environment_variables: invalid variable name \"%.80s\"", name);
        rc = resolve_scalar(ld, value, 0, &text, &kind);
        if (rc != SL_OK)
            return rc;
        if (setenv(name, kind == SCALAR_VALUE ? text : "", 1) != 0)
            return fail(ld, key, "environment_variables.%s: setenv failed: %s", name,
                        strerror(errno));
    }
    return SL_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Deployments                                                                              */
/* ---------------------------------------------------------------------------------------- */

void
sl_config_deployment_id(const char *model_name, const char *const *keys,
                        const char *const *values, size_t n,
                        char out[SL_CONFIG_DEPLOYMENT_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        abort(); /* only out of memory makes SHA-256 unavailable */
    EVP_DigestUpdate(ctx, model_name, strlen(model_name));
    for (size_t i = 0; i < n; i++) {
        EVP_DigestUpdate(ctx, keys[i], strlen(keys[i]));
        EVP_DigestUpdate(ctx, values[i], strlen(values[i]));
    }
    EVP_DigestFinal_ex(ctx, digest, &digest_len);
    EVP_MD_CTX_free(ctx);

    for (size_t i = 0; i < SL_CONFIG_DEPLOYMENT_ID_LEN / 2; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0xf];
    }
    out[SL_CONFIG_DEPLOYMENT_ID_LEN] = '\0';
}

/* Appends `node` as compact JSON with every scalar a string, as written in the file. */
static enum sl_status
render_json(struct loader *ld, const yaml_node_t *node, struct sl_buf *b, int depth)
{
    enum sl_status rc =
        charge(ld, node, node->type == YAML_SCALAR_NODE ? node->data.scalar.length : 0);

    if (rc != SL_OK)
        return rc;
    if (depth > SL_CONFIG_MAX_RENDER_DEPTH)
        return fail(ld, node, "lists and maps nested too deeply (is an alias inside itself?)");

    if (node->type == YAML_SCALAR_NODE)
        return sl_json_append_string(b, (const char *)node->data.scalar.value,
                                     node->data.scalar.length);
    if (node->type == YAML_SEQUENCE_NODE) {
        sl_buf_append(b, "[", 1);
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             rc == SL_OK && it < node->data.sequence.items.top; it++) {
            if (it != node->data.sequence.items.start)
                sl_buf_append(b, ",", 1);
            rc = render_json(ld, yaml_document_get_node(ld->doc, *it), b, depth + 1);
        }
        return rc != SL_OK ? rc : sl_buf_append(b, "]", 1);
    }
    sl_buf_append(b, "{", 1);
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
         rc == SL_OK && p < node->data.mapping.pairs.top; p++) {
        if (p != node->data.mapping.pairs.start)
            sl_buf_append(b, ",", 1);
        rc = render_json(ld, yaml_document_get_node(ld->doc, p->key), b, depth + 1);
        if (rc == SL_OK)
            sl_buf_append(b, ":", 1);
        if (rc == SL_OK)
            rc = render_json(ld, yaml_document_get_node(ld->doc, p->value), b, depth + 1);
    }
    return rc != SL_OK ? rc : sl_buf_append(b, "}", 1);
}

/* Computes d->id from the litellm_params mapping of `item` as sl_config_deployment_id()
 * describes. The walk has already checked that litellm_params is a mapping. */
static enum sl_status
compute_id(struct loader *ld, const yaml_node_t *item, struct sl_deployment *d)
{
    const yaml_node_t *params = NULL;
    const char **keys = NULL;
    char **values = NULL;
    size_t n = 0;
    char id[SL_CONFIG_DEPLOYMENT_ID_LEN + 1];
    enum sl_status rc = find_top(ld, item, "litellm_params", &params);

    if (rc != SL_OK || params == NULL || params->type != YAML_MAPPING_NODE)
        goto out;

    n = (size_t)(params->data.mapping.pairs.top - params->data.mapping.pairs.start);
    keys = sl_xcalloc(n + 1, sizeof(*keys));
    values = sl_xcalloc(n + 1, sizeof(*values));
    for (size_t i = 0; i < n; i++) {
        const yaml_node_pair_t *p = &params->data.mapping.pairs.start[i];
        const yaml_node_t *key = yaml_document_get_node(ld->doc, p->key);
        const yaml_node_t *value = yaml_document_get_node(ld->doc, p->value);
        struct sl_buf b;

        keys[i] = (const char *)key->data.scalar.value;
        sl_buf_init(&b, SL_CONFIG_MAX_COPIED_BYTES);
        if (value->type == YAML_SCALAR_NODE) {
            rc = charge(ld, value, value->data.scalar.length);
            if (rc == SL_OK)
                rc = sl_buf_append(&b, value->data.scalar.value, value->data.scalar.length);
        } else {
            rc = render_json(ld, value, &b, 0);
        }
        values[i] = sl_buf_take(&b, NULL);
        if (rc != SL_OK) {
            if (rc != SL_ERR_CONFIG)
                rc = fail(ld, value, "value too large");
            goto out;
        }
    }

out:
    if (rc == SL_OK) {
        sl_config_deployment_id(d->model_name, keys, (const char *const *)values,
                                params != NULL ? n : 0, id);
        d->id = sl_xstrdup(id);
    }
    for (size_t i = 0; values != NULL && i < n; i++)
        free(values[i]);
    free(values);
    free(keys);
    return rc;
}

/* Splits d->model at its first '/': "hosted_vllm/meta/llama" is provider hosted_vllm and
 * model meta/llama; a name without a slash is an OpenAI model. */
static enum sl_status
split_model(struct loader *ld, const yaml_node_t *item, struct sl_deployment *d)
{
    const char *slash = strchr(d->model, '/');

    if (slash == NULL) {
        d->provider = sl_xstrdup("openai");
        d->provider_model = sl_xstrdup(d->model);
        return SL_OK;
    }
    if (slash == d->model || slash[1] == '\0')
        return fail(ld, item, "litellm_params.model: invalid model \"%.80s\" (expected "
                              "provider/name, e.g. openai/gpt-4o-mini)", d->model);
    d->provider = sl_xstrndup(d->model, (size_t)(slash - d->model));
    d->provider_model = sl_xstrdup(slash + 1);
    return SL_OK;
}

/* Reads the model_list item `item` into `d`; `prefix` names it in messages. */
static enum sl_status
load_deployment(struct loader *ld, const yaml_node_t *item, struct sl_deployment *d,
                const char *prefix)
{
    enum sl_status rc;

    sl_config__set_defaults(SL_CONFIG_DEPLOYMENT, d);
    enter_scope(ld, SL_CONFIG_DEPLOYMENT, d, prefix);

    if (item == NULL || item->type != YAML_MAPPING_NODE)
        return fail(ld, item, "expected a mapping with model_name and litellm_params, found %s",
                    item != NULL ? node_kind(item) : "nothing");
    rc = walk_map(ld, item);
    if (rc != SL_OK)
        return rc;

    for (size_t i = 0; i < sl_config__n_options; i++) {
        const struct sl_config_option *opt = &sl_config__options[i];

        if (opt->scope == SL_CONFIG_DEPLOYMENT && (opt->flags & SL_CONFIG_REQUIRED) &&
            *(char **)(void *)((char *)d + opt->offset) == NULL)
            return fail(ld, item, "missing required key %s", opt->path);
    }

    rc = split_model(ld, item, d);
    if (rc != SL_OK)
        return rc;
    return d->id != NULL ? SL_OK : compute_id(ld, item, d);
}

static enum sl_status
load_deployments(struct loader *ld, const yaml_node_t *root)
{
    const yaml_node_t *list;
    enum sl_status rc = find_top(ld, root, "model_list", &list);
    size_t n;

    if (rc != SL_OK || list == NULL || (list->type == YAML_SCALAR_NODE && is_null_scalar(list)))
        return rc;
    if (list->type != YAML_SEQUENCE_NODE)
        return fail(ld, list, "model_list: expected a list of deployments, found %s",
                    node_kind(list));

    n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    ld->cfg->deployments = sl_xcalloc(n + 1, sizeof(struct sl_deployment));
    for (size_t i = 0; i < n; i++) {
        char prefix[48];

        snprintf(prefix, sizeof(prefix), "model_list[%zu]", i);
        ld->cfg->n_deployments = i + 1; /* so that dispose frees a half-loaded entry */
        rc = load_deployment(ld, yaml_document_get_node(ld->doc, list->data.sequence.items.start[i]),
                             &ld->cfg->deployments[i], prefix);
        if (rc != SL_OK)
            return rc;
    }
    return SL_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Loading                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* Applies the env vars named in the table over the values from the file. */
static enum sl_status
apply_env_overrides(struct loader *ld)
{
    for (size_t i = 0; i < sl_config__n_options; i++) {
        const struct sl_config_option *opt = &sl_config__options[i];
        const char *value =
            opt->scope == SL_CONFIG_GLOBAL && opt->env != NULL ? getenv(opt->env) : NULL;
        struct sl_errbuf why;

        if (value == NULL || value[0] == '\0')
            continue;
        if (sl_config__set_scalar(opt, ld->cfg, value, &why) != SL_OK) {
            sl_errbuf_set(ld->err, "%s: environment variable %s (overrides %s): %s", ld->name,
                          opt->env, opt->path, why.msg);
            return SL_ERR_CONFIG;
        }
    }
    return SL_OK;
}

/* Checks rules that involve more than one option. */
static enum sl_status
validate(struct loader *ld)
{
    const struct sl_config *cfg = ld->cfg;

    if ((cfg->tls_cert_file == NULL) != (cfg->tls_key_file == NULL)) {
        sl_errbuf_set(ld->err, "%s: general_settings.%s is set but %s is not (TLS needs both)",
                      ld->name, cfg->tls_cert_file != NULL ? "tls_cert_file" : "tls_key_file",
                      cfg->tls_cert_file != NULL ? "tls_key_file" : "tls_cert_file");
        return SL_ERR_CONFIG;
    }
    if (cfg->cache_namespace != NULL &&
        strlen(cfg->cache_namespace) > SL_CONFIG_CACHE_NAMESPACE_MAX) {
        sl_errbuf_set(ld->err, "%s: litellm_settings.cache_params.namespace is longer than %d "
                               "bytes", ld->name, SL_CONFIG_CACHE_NAMESPACE_MAX);
        return SL_ERR_CONFIG;
    }
    return SL_OK;
}

static enum sl_status
load_document(struct loader *ld)
{
    const yaml_node_t *root = yaml_document_get_root_node(ld->doc);
    enum sl_status rc;

    if (root == NULL || (root->type == YAML_SCALAR_NODE && is_null_scalar(root))) {
        sl_errbuf_set(ld->err, "%s: the file is empty (expected a mapping with model_list and "
                               "the settings sections)", ld->name);
        return SL_ERR_CONFIG;
    }
    if (root->type != YAML_MAPPING_NODE)
        return fail(ld, root, "the top level must be a mapping (model_list:, general_settings:, "
                              "...), found %s", node_kind(root));

    /* The environment comes first because every other value may refer to it. */
    enter_scope(ld, SL_CONFIG_GLOBAL, ld->cfg, "");
    rc = apply_environment(ld, root);
    if (rc != SL_OK)
        return rc;

    sl_config__set_defaults(SL_CONFIG_GLOBAL, ld->cfg);
    rc = walk_map(ld, root);
    if (rc == SL_OK)
        rc = load_deployments(ld, root);
    if (rc == SL_OK)
        rc = apply_env_overrides(ld);
    if (rc == SL_OK)
        rc = validate(ld);
    return rc;
}

static enum sl_status
parse_yaml(const char *text, size_t len, const char *name, yaml_document_t *doc,
           struct sl_errbuf *err)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    enum sl_status rc = SL_OK;

    if (!yaml_parser_initialize(&parser))
        abort(); /* libyaml fails here only when out of memory */
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

    if (!yaml_parser_load(&parser, doc)) {
        sl_errbuf_set(err, "%s:%zu:%zu: invalid YAML: %s%s%s", name, parser.problem_mark.line + 1,
                      parser.problem_mark.column + 1, parser.problem ? parser.problem : "error",
                      parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return SL_ERR_CONFIG;
    }

    /* A second document would be ignored silently by a loader that stops at the first. */
    if (!yaml_parser_load(&parser, &extra)) {
        sl_errbuf_set(err, "%s:%zu:%zu: invalid YAML: %s", name, parser.problem_mark.line + 1,
                      parser.problem_mark.column + 1, parser.problem ? parser.problem : "error");
        rc = SL_ERR_CONFIG;
    } else {
        if (yaml_document_get_root_node(&extra) != NULL) {
            sl_errbuf_set(err, "%s:%zu:%zu: more than one YAML document (remove the second ---)",
                          name, extra.start_mark.line + 1, extra.start_mark.column + 1);
            rc = SL_ERR_CONFIG;
        }
        yaml_document_delete(&extra);
    }
    if (rc != SL_OK)
        yaml_document_delete(doc);
    yaml_parser_delete(&parser);
    return rc;
}

enum sl_status
sl_config_load_buffer(const char *text, size_t len, const char *name, struct sl_config *out,
                      struct sl_errbuf *err)
{
    struct sl_config next;
    yaml_document_t doc;
    struct loader ld;
    enum sl_status rc;

    if (len > SL_CONFIG_MAX_BYTES) {
        sl_errbuf_set(err, "%s: file is %zu bytes, over the limit of %u", name, len,
                      SL_CONFIG_MAX_BYTES);
        return SL_ERR_TOO_LARGE;
    }
    rc = parse_yaml(text, len, name, &doc, err);
    if (rc != SL_OK)
        return rc;

    memset(&next, 0, sizeof(next));
    memset(&ld, 0, sizeof(ld));
    ld.name = name;
    ld.doc = &doc;
    ld.cfg = &next;
    ld.err = err;
    ld.seen = sl_xcalloc(sl_config__n_options, 1);
    sl_buf_init(&ld.path, SL_CONFIG_MAX_PATH);

    rc = load_document(&ld);
    if (rc == SL_OK) {
        next.path = sl_xstrdup(name);
        *out = next;
    } else {
        sl_config_dispose(&next);
    }

    sl_buf_dispose(&ld.path);
    free(ld.seen);
    yaml_document_delete(&doc);
    return rc;
}

/* Reads at most SL_CONFIG_MAX_BYTES + 1 bytes, so that a file over the cap is detected
 * without reading it all. */
static enum sl_status
read_file(const char *path, char **text, size_t *len, struct sl_errbuf *err)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t n;
    enum sl_status rc = SL_OK;

    if (f == NULL) {
        sl_errbuf_set(err, "%s: cannot open: %s", path, strerror(errno));
        return SL_ERR_IO;
    }
    data = sl_xmalloc((size_t)SL_CONFIG_MAX_BYTES + 1);
    n = fread(data, 1, (size_t)SL_CONFIG_MAX_BYTES + 1, f);
    if (ferror(f)) {
        sl_errbuf_set(err, "%s: read failed: %s", path, strerror(errno));
        rc = SL_ERR_IO;
    } else if (n > SL_CONFIG_MAX_BYTES) {
        sl_errbuf_set(err, "%s: file is over the limit of %u bytes", path, SL_CONFIG_MAX_BYTES);
        rc = SL_ERR_TOO_LARGE;
    }
    fclose(f);

    if (rc != SL_OK) {
        free(data);
        return rc;
    }
    *text = data;
    *len = n;
    return SL_OK;
}

enum sl_status
sl_config_load(const char *path, struct sl_config *out, struct sl_errbuf *err)
{
    char *text = NULL;
    size_t len = 0;
    enum sl_status rc = read_file(path, &text, &len, err);

    if (rc != SL_OK)
        return rc;
    rc = sl_config_load_buffer(text, len, path, out, err);
    free(text);
    return rc;
}

enum sl_status
sl_config_parse_deployment(const char *text, size_t len, const char *name,
                           struct sl_deployment *out, struct sl_strlist *unknown_keys,
                           struct sl_errbuf *err)
{
    struct sl_config scratch;
    struct sl_deployment next;
    yaml_document_t doc;
    struct loader ld;
    enum sl_status rc;

    if (len > SL_CONFIG_MAX_BYTES) {
        sl_errbuf_set(err, "%s: deployment is %zu bytes, over the limit of %u", name, len,
                      SL_CONFIG_MAX_BYTES);
        return SL_ERR_TOO_LARGE;
    }
    rc = parse_yaml(text, len, name, &doc, err);
    if (rc != SL_OK)
        return rc;

    memset(&scratch, 0, sizeof(scratch));
    memset(&next, 0, sizeof(next));
    memset(&ld, 0, sizeof(ld));
    ld.name = name;
    ld.doc = &doc;
    ld.cfg = &scratch; /* collects unknown keys and unset env vars */
    ld.err = err;
    ld.seen = sl_xcalloc(sl_config__n_options, 1);
    sl_buf_init(&ld.path, SL_CONFIG_MAX_PATH);

    rc = load_deployment(&ld, yaml_document_get_root_node(&doc), &next, "");
    if (rc == SL_OK) {
        *out = next;
        if (unknown_keys != NULL) {
            *unknown_keys = scratch.unknown_keys;
            memset(&scratch.unknown_keys, 0, sizeof(scratch.unknown_keys));
        }
    } else {
        sl_config_deployment_dispose(&next);
    }

    sl_config_dispose(&scratch);
    sl_buf_dispose(&ld.path);
    free(ld.seen);
    yaml_document_delete(&doc);
    return rc;
}

void
sl_config_deployment_dispose(struct sl_deployment *d)
{
    sl_config__dispose_slots(SL_CONFIG_DEPLOYMENT, d);
    free(d->provider);
    free(d->provider_model);
    memset(d, 0, sizeof(*d));
}

void
sl_config_dispose(struct sl_config *cfg)
{
    for (size_t i = 0; i < cfg->n_deployments; i++)
        sl_config_deployment_dispose(&cfg->deployments[i]);
    free(cfg->deployments);
    sl_config__dispose_slots(SL_CONFIG_GLOBAL, cfg);
    sl_config__strlist_dispose(&cfg->unknown_keys);
    sl_config__strlist_dispose(&cfg->unset_env);
    free(cfg->path);
    memset(cfg, 0, sizeof(*cfg));
}

double
sl_config_timeout_s(const struct sl_config *cfg, const struct sl_deployment *d)
{
    if (d != NULL && !isnan(d->timeout_s))
        return d->timeout_s;
    if (!isnan(cfg->router_timeout_s))
        return cfg->router_timeout_s;
    return cfg->request_timeout_s;
}

double
sl_config_stream_timeout_s(const struct sl_config *cfg, const struct sl_deployment *d)
{
    if (d != NULL && !isnan(d->stream_timeout_s))
        return d->stream_timeout_s;
    if (!isnan(cfg->router_stream_timeout_s))
        return cfg->router_stream_timeout_s;
    return sl_config_timeout_s(cfg, d);
}
