/* SPDX-License-Identifier: Apache-2.0 */
/* deployment_check -- a deployment's provider, api_base and api_key; see deployment_check.h. */
#include "gateway/router/deployment_check.h"

#include <stdlib.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "gateway/providers/provider.h"

enum sl_status
sl_router_check_deployment(struct sl_deployment *d, const char *where, struct sl_errbuf *err)
{
    const struct sl_provider *p = sl_provider_find(d->provider);

    if (p == NULL) {
        struct sl_buf known;

        sl_buf_init(&known, 0);
        sl_provider_list(&known);
        sl_errbuf_set(err, "%s.litellm_params.model: unknown provider \"%s\" in \"%s\" "
                           "(known: %s)", where, d->provider, d->model, known.data);
        sl_buf_dispose(&known);
        return SL_ERR_CONFIG;
    }
    /* A family whose base URL comes from the environment reads it like the api_key. */
    if (d->api_base == NULL && p->api_base_env != NULL && getenv(p->api_base_env) != NULL)
        d->api_base = sl_xstrdup(getenv(p->api_base_env));
    if (d->api_base == NULL && p->default_api_base == NULL && !p->derives_api_base) {
        sl_errbuf_set(err, "%s.litellm_params.api_base: required for provider \"%s\"", where,
                      d->provider);
        return SL_ERR_CONFIG;
    }
    /* LiteLLM reads the provider's usual variable when the deployment names no key. */
    if (d->api_key == NULL && p->api_key_env != NULL && getenv(p->api_key_env) != NULL)
        d->api_key = sl_xstrdup(getenv(p->api_key_env));
    return SL_OK;
}
