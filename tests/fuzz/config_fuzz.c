/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_fuzz -- sl_config_load_buffer() on arbitrary bytes. A load either succeeds with every
 * deployment complete (name, model, provider, id) or fails with a message; ASan and LSan check
 * that sl_config_dispose() frees everything and that no path reads out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Named in config.dict, so that os.environ/ references can resolve. */
    setenv("SL_FUZZ_KEY", "sk-fuzz", 1);
    setenv("SL_FUZZ_TIMEOUT", "30s", 1);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_config cfg;
    struct sl_errbuf err;
    enum sl_status rc;

    err.msg[0] = '\0';
    rc = sl_config_load_buffer((const char *)data, size, "fuzz.yaml", &cfg, &err);
    if (rc != SL_OK) {
        if (err.msg[0] == '\0')
            abort();
        return 0;
    }

    if (cfg.path == NULL || (cfg.n_deployments > 0 && cfg.deployments == NULL))
        abort();
    for (size_t i = 0; i < cfg.n_deployments; i++) {
        const struct sl_deployment *d = &cfg.deployments[i];

        if (d->model_name == NULL || d->model == NULL || d->provider == NULL ||
            d->provider_model == NULL || d->id == NULL || d->provider[0] == '\0' ||
            d->provider_model[0] == '\0')
            abort();
        if (d->n_extra_headers > 0 && d->extra_headers == NULL)
            abort();
        if (sl_config_timeout_s(&cfg, d) <= 0)
            abort();
    }
    sl_config_dispose(&cfg);
    return 0;
}
