/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_test -- the log level read from SLUICE_LOG_LEVEL, or from LiteLLM's LITELLM_LOG when
 * it is unset.
 */
#include <stdlib.h>

#include "common/log.h"
#include "tests/unit/test.h"

TEST(litellm_log_sets_the_level)
{
    unsetenv("SLUICE_LOG_LEVEL");
    unsetenv("SLUICE_LOG_DEBUG");
    setenv("LITELLM_LOG", "WARNING", 1);
    sl_log_init("test");
    ASSERT_EQ(SL_LOG_WARN, sl_log_min_level);
    setenv("LITELLM_LOG", "CRITICAL", 1);
    sl_log_init("test");
    ASSERT_EQ(SL_LOG_ERROR, sl_log_min_level);
}

TEST(sluice_level_wins_over_litellm_log)
{
    setenv("LITELLM_LOG", "DEBUG", 1);
    setenv("SLUICE_LOG_LEVEL", "error", 1);
    sl_log_init("test");
    ASSERT_EQ(SL_LOG_ERROR, sl_log_min_level);
}

TEST(unknown_level_keeps_the_default)
{
    unsetenv("SLUICE_LOG_LEVEL");
    setenv("LITELLM_LOG", "verbose", 1);
    sl_log_min_level = SL_LOG_INFO;
    sl_log_init("test");
    ASSERT_EQ(SL_LOG_INFO, sl_log_min_level);
}
