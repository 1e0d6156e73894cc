/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lua_scripts -- lookup in the table of embedded scripts; the table itself is generated.
 */
#include "common/lua_scripts.h"

#include <string.h>

const struct sl_lua_script *
sl_lua_script_find(const char *name)
{
    for (size_t i = 0; i < sl_lua_n_scripts; i++) {
        if (strcmp(sl_lua_scripts[i].name, name) == 0)
            return &sl_lua_scripts[i];
    }
    return NULL;
}
