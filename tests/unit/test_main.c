/* SPDX-License-Identifier: Apache-2.0 */
/* test_main -- runs one named test case, or all of them, for the TEST() cases linked in. */
#include "test.h"

#include "common/xalloc.h"

struct sl_test_case sl_test_cases[SL_TEST_MAX_CASES];
int sl_test_count;

int
main(int argc, char **argv)
{
    int ran = 0;

    sl_xalloc_install();
    for (int i = 0; i < sl_test_count; i++) {
        if (argc > 1 && strcmp(argv[1], sl_test_cases[i].name) != 0)
            continue;
        sl_test_cases[i].fn();
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(any)");
        return 1;
    }
    return 0;
}
