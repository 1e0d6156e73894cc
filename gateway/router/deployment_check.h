/* SPDX-License-Identifier: Apache-2.0 */
/*
 * deployment_check -- the checks of a deployment that need the provider families, shared by
 * the config loader, the models table reader and the coordinator's health checks.
 *
 * A header of its own, apart from router.h, so that programs without a router (the
 * coordinator) link only the provider families. Pure apart from reading the environment.
 */
#ifndef SL_DEPLOYMENT_CHECK_H
#define SL_DEPLOYMENT_CHECK_H

#include "common/config.h"
#include "common/status.h"

/*
 * Checks what the config loader cannot know about `d`: a known provider, and an api_base
 * where the provider has no default. Fills api_base and api_key from the provider's usual
 * environment variables when `d` names none, as LiteLLM does. `where` starts each message,
 * e.g. "config.yaml: model_list[2]". Returns SL_OK or SL_ERR_CONFIG with the reason in `err`.
 * Reads the environment.
 */
enum sl_status sl_router_check_deployment(struct sl_deployment *d, const char *where,
                                          struct sl_errbuf *err);

#endif /* SL_DEPLOYMENT_CHECK_H */
