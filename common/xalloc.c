/* SPDX-License-Identifier: Apache-2.0 */
/* xalloc -- aborting allocator shared by our code, cJSON and libcurl. */
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

static void
oom(size_t n)
{
    /* No logging machinery here: it may itself need memory. */
    fprintf(stderr, "{\"level\":\"error\",\"event\":\"process.out_of_memory\",\"bytes\":%zu}\n", n);
    abort();
}

void *
sl_xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);

    if (p == NULL)
        oom(n);
    return p;
}

void *
sl_xcalloc(size_t count, size_t n)
{
    void *p = calloc(count == 0 ? 1 : count, n == 0 ? 1 : n);

    if (p == NULL)
        oom(count * n);
    return p;
}

void *
sl_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n == 0 ? 1 : n);

    if (q == NULL)
        oom(n);
    return q;
}

char *
sl_xstrndup(const char *s, size_t n)
{
    char *p = sl_xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
sl_xstrdup(const char *s)
{
    return sl_xstrndup(s, strlen(s));
}

static void *
cjson_malloc(size_t n)
{
    return sl_xmalloc(n);
}

void
sl_xalloc_install(void)
{
    cJSON_Hooks hooks = {.malloc_fn = cjson_malloc, .free_fn = free};

    cJSON_InitHooks(&hooks);
    if (curl_global_init_mem(CURL_GLOBAL_ALL, sl_xmalloc, free, sl_xrealloc, sl_xstrdup,
                             sl_xcalloc) != CURLE_OK)
        oom(0);
}
