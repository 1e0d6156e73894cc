/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lua_scripts -- the Redis scripts of lua-scripts/ (one .lua file each), embedded in the
 * binary at build time.
 *
 * CMake turns every lua-scripts/NAME.lua into an entry named NAME (cmake/embed_lua.cmake), so
 * the scripts stay real .lua files that tests and reviewers read as Lua. Load an entry with
 * sl_redis_script_load() to run it. The table is read-only and shared by all threads.
 */
#ifndef SL_LUA_SCRIPTS_H
#define SL_LUA_SCRIPTS_H

#include <stddef.h>

struct sl_lua_script {
    const char *name;   /* file name without .lua, e.g. "window_incr" */
    const char *source; /* the file's bytes, NUL-terminated */
    size_t len;         /* without the NUL */
};

extern const struct sl_lua_script sl_lua_scripts[];
extern const size_t sl_lua_n_scripts;

/* Returns the embedded script named `name`, or NULL. */
const struct sl_lua_script *sl_lua_script_find(const char *name);

#endif /* SL_LUA_SCRIPTS_H */
