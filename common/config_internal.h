/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_internal -- the option table shared by the YAML loader (config.c) and the table,
 * typed setters and reference writers (config_table.c). Not for use outside common/config*.c.
 */
#ifndef SL_CONFIG_INTERNAL_H
#define SL_CONFIG_INTERNAL_H

#include <stddef.h>

#include "common/config.h"
#include "common/status.h"

enum sl_config_type {
    SL_CONFIG_T_STRING,
    SL_CONFIG_T_BOOL,         /* int 0 or 1 */
    SL_CONFIG_T_INT,          /* int64_t */
    SL_CONFIG_T_DOUBLE,       /* double */
    SL_CONFIG_T_DURATION,     /* double seconds, parsed by sl_units_parse_duration() */
    SL_CONFIG_T_SIZE_MB,      /* uint64_t bytes, parsed by sl_units_parse_size_mb() */
    SL_CONFIG_T_ENUM,         /* int index into `choices` */
    SL_CONFIG_T_STRLIST,      /* struct sl_strlist, from a YAML sequence */
    SL_CONFIG_T_HEADERS,      /* struct sl_header array at `offset`, size_t count at `aux` */
    SL_CONFIG_T_BOOL_OR_PATH, /* int at `offset`; a path sets it to 1 and goes to `aux` */
    SL_CONFIG_T_MISPLACED,    /* any value fails the load with `doc` as the reason */
    SL_CONFIG_T_FALLBACKS,    /* struct sl_fallbacks, from [{group: [target, ...]}, ...] */
    SL_CONFIG_T_RETRY_POLICY, /* struct sl_error_policy, from {BadRequestErrorRetries: n, ...} */
    SL_CONFIG_T_ALLOWED_FAILS_POLICY, /* struct sl_error_policy, from {...AllowedFails: n} */
    SL_CONFIG_T_GROUP_RETRY_POLICY,   /* struct sl_group_policies, from {group: retry policy} */
};

enum sl_config_scope {
    SL_CONFIG_GLOBAL,     /* path from the top of the file, slot in struct sl_config */
    SL_CONFIG_DEPLOYMENT, /* path inside a model_list item, slot in struct sl_deployment */
};

/* Flags of an option. */
/* NOTE: nothing reloads the config yet, so SL_CONFIG_RELOADABLE only fills the "Reload"
 * column of docs/configuration.md. */
#define SL_CONFIG_RELOADABLE   0x1u /* a reload may change it without a restart */
#define SL_CONFIG_SECRET       0x2u /* its value never appears in messages */
#define SL_CONFIG_ENV_OPTIONAL 0x4u /* os.environ/NAME with NAME unset leaves it unset */
#define SL_CONFIG_REQUIRED     0x8u /* a load without it fails */

struct sl_config_option {
    const char *path; /* dotted YAML path within its scope */
    enum sl_config_scope scope;
    enum sl_config_type type;
    const char *env;     /* env var that overrides the file, or NULL */
    const char *def;     /* default as text, parsed by the setter, or NULL for unset */
    double min;          /* bounds of numbers (sizes in MB), checked when min < max */
    double max;
    unsigned flags;      /* SL_CONFIG_* flags */
    size_t offset;       /* slot in struct sl_config or struct sl_deployment */
    size_t aux;          /* second slot of HEADERS and BOOL_OR_PATH */
    const char *const *choices; /* names of an ENUM, NULL-terminated */
    const char *doc;     /* one line for the reference and --help */
};

extern const struct sl_config_option sl_config__options[];
extern const size_t sl_config__n_options;

/* Returns the option of `scope` whose path is `path`, or NULL. */
const struct sl_config_option *sl_config__find(enum sl_config_scope scope, const char *path);

/* Returns 1 when some option of `scope` has a path that starts with `prefix` and a dot. */
int sl_config__is_section(enum sl_config_scope scope, const char *prefix);

/* Writes the unset sentinel of every option of `scope` into `base`, then every default. */
void sl_config__set_defaults(enum sl_config_scope scope, void *base);

/*
 * Parses the scalar `text` as `opt`'s type, checks its bounds and stores it at `base`,
 * freeing what the slot held. On failure `why` gets the reason and the value (hidden for
 * secrets), e.g. `invalid duration "abc" (expected seconds, e.g. 30 or "30s")`, and the slot
 * is unchanged. Returns SL_OK or SL_ERR_CONFIG.
 */
enum sl_status sl_config__set_scalar(const struct sl_config_option *opt, void *base,
                                     const char *text, struct sl_errbuf *why);

/* Frees a string slot's value and sets it to NULL. */
void sl_config__unset_string(const struct sl_config_option *opt, void *base);

/* Frees every entry of `list` and zeroes it. */
void sl_config__fallbacks_dispose(struct sl_fallbacks *list);

/* Frees every item of `list` and zeroes it. */
void sl_config__strlist_dispose(struct sl_strlist *list);

/* Frees every entry of `list` and zeroes it. */
void sl_config__group_policies_dispose(struct sl_group_policies *list);

/* Marks every count of `policy` unset and the policy itself not given. */
void sl_config__error_policy_clear(struct sl_error_policy *policy);

/* Frees every owned string and array of `base` listed in the table for `scope`. */
void sl_config__dispose_slots(enum sl_config_scope scope, void *base);

#endif /* SL_CONFIG_INTERNAL_H */
