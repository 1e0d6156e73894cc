/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_test -- the log level read from SLUICE_LOG_LEVEL, or from LiteLLM's LITELLM_LOG when
 * it is unset, and the JSON text of a log line.
 */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Runs sl_log() with stdout sent to a temporary file and copies the line into `out`. */
#define CAPTURE_LINE(out, ...)                                                                     \
    do {                                                                                           \
        FILE *tmp_ = tmpfile();                                                                    \
        int saved_ = dup(STDOUT_FILENO);                                                           \
        size_t got_;                                                                               \
                                                                                                   \
        ASSERT_TRUE(tmp_ != NULL);                                                                 \
        fflush(stdout);                                                                            \
        dup2(fileno(tmp_), STDOUT_FILENO);                                                         \
        sl_log(SL_LOG_INFO, "req-1", "test.event", __VA_ARGS__);                                   \
        dup2(saved_, STDOUT_FILENO);                                                               \
        close(saved_);                                                                             \
        rewind(tmp_);                                                                              \
        got_ = fread((out), 1, sizeof(out) - 1, tmp_);                                             \
        (out)[got_] = '\0';                                                                        \
        fclose(tmp_);                                                                              \
    } while (0)

TEST(line_has_fields_in_order)
{
    char line[1024];

    unsetenv("SLUICE_LOG_LEVEL");
    unsetenv("LITELLM_LOG");
    sl_log_init("test");
    CAPTURE_LINE(line, SL_LOG_STR("path", "/v1/a\"b"), SL_LOG_INT("status", 200),
                 SL_LOG_BOOL("stream", 1), SL_LOG_STR("none", NULL));
    ASSERT_EQ(0, strncmp(line, "{\"ts\":\"", 7));
    ASSERT_CONTAINS(line, "\"level\":\"info\",\"event\":\"test.event\",\"proc\":\"test\"");
    ASSERT_CONTAINS(line, ",\"request_id\":\"req-1\",\"path\":\"/v1/a\\\"b\",\"status\":200,"
                          "\"stream\":true,\"none\":null}\n");
}

TEST(timestamp_is_utc_with_ms)
{
    char line[1024];
    const char *ts;

    sl_log_init("test");
    CAPTURE_LINE(line, SL_LOG_INT("n", 1));
    ts = line + 7;
    /* 2026-12-05T04:59:58.667Z */
    ASSERT_EQ('-', ts[4]);
    ASSERT_EQ('T', ts[10]);
    ASSERT_EQ(':', ts[13]);
    ASSERT_EQ('.', ts[19]);
    ASSERT_EQ('Z', ts[23]);
    ASSERT_EQ('"', ts[24]);
    for (int i = 20; i < 23; i++)
        ASSERT_TRUE(isdigit((unsigned char)ts[i]));
}

TEST(integers_keep_sign_and_range)
{
    char line[1024];

    sl_log_init("test");
    CAPTURE_LINE(line, SL_LOG_INT("zero", 0), SL_LOG_INT("neg", -42),
                 SL_LOG_INT("min", INT64_MIN), SL_LOG_INT("max", INT64_MAX));
    ASSERT_CONTAINS(line, "\"zero\":0,\"neg\":-42,");
    ASSERT_CONTAINS(line, "\"min\":-9223372036854775808,\"max\":9223372036854775807}");
}

TEST(doubles_read_back_exactly)
{
    char line[1024];

    sl_log_init("test");
    CAPTURE_LINE(line, SL_LOG_DBL("whole", 12.0), SL_LOG_DBL("ms", 1.5),
                 SL_LOG_DBL("cost", 0.000123456789012), SL_LOG_DBL("big", 1e20),
                 SL_LOG_DBL("negzero", -0.0), SL_LOG_DBL("nan", NAN));
    ASSERT_CONTAINS(line, "\"whole\":12,\"ms\":1.5,\"cost\":0.000123456789012,");
    ASSERT_CONTAINS(line, "\"big\":1e+20,\"negzero\":-0,\"nan\":null}");
}
