/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixtures.h -- locating the provider wire-format fixtures for unit tests.
 *
 * The fixtures are recorded provider streams and bodies kept outside this repository; the
 * SLUICE_FIXTURES environment variable names their directory. A test that needs them calls
 * sl_test_fixtures_dir(). Without fixtures the test is skipped (exit code 77, which ctest
 * reports as skipped), except under CI=true, where nothing may be skipped silently.
 */
#ifndef SL_TEST_FIXTURES_H
#define SL_TEST_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SL_TEST_SKIP_EXIT_CODE 77

/*
 * Returns the fixtures directory from SLUICE_FIXTURES. When SLUICE_FIXTURES is unset or empty,
 * prints a skip notice and exits with SL_TEST_SKIP_EXIT_CODE, or, when CI is "true", prints an
 * error and exits with 1. A SLUICE_FIXTURES that is not a directory is always an error.
 */
static inline const char *
sl_test_fixtures_dir(void)
{
    const char *dir = getenv("SLUICE_FIXTURES");
    const char *ci = getenv("CI");
    struct stat st;

    if (dir == NULL || dir[0] == '\0') {
        if (ci != NULL && strcmp(ci, "true") == 0) {
            fprintf(stderr, "SLUICE_FIXTURES is not set, and CI=true forbids skipping: set it "
                            "to the fixtures directory\n");
            exit(1);
        }
        fprintf(stderr, "skipped: SLUICE_FIXTURES is not set\n");
        exit(SL_TEST_SKIP_EXIT_CODE);
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "SLUICE_FIXTURES=%s is not a directory\n", dir);
        exit(1);
    }
    return dir;
}

#endif /* SL_TEST_FIXTURES_H */
