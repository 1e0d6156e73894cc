/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xalloc -- allocation that aborts on out-of-memory, decided once for the whole program.
 *
 * sl_xalloc_install() puts the same allocator into cJSON and libcurl, so a NULL from those
 * libraries always means bad input, never exhausted memory. Call it once from main() before
 * any thread starts. Sizes that come from the network are capped by the caller before they
 * reach these functions.
 */
#ifndef SL_XALLOC_H
#define SL_XALLOC_H

#include <stddef.h>

void *sl_xmalloc(size_t n);
void *sl_xcalloc(size_t count, size_t n);
void *sl_xrealloc(void *p, size_t n);
char *sl_xstrdup(const char *s);
/* Copies `n` bytes of `s` and appends a NUL; `s` need not be NUL-terminated. */
char *sl_xstrndup(const char *s, size_t n);

/* Installs the aborting allocator into cJSON and calls curl_global_init_mem. Not thread-safe. */
void sl_xalloc_install(void);

#endif /* SL_XALLOC_H */
