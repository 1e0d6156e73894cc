/* SPDX-License-Identifier: Apache-2.0 */
/* clock -- monotonic and wall-clock time in milliseconds. Thread-safe. */
#ifndef SL_CLOCK_H
#define SL_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC: for durations and deadlines, never for timestamps. */
uint64_t sl_now_ms(void);
/* Microseconds on CLOCK_MONOTONIC. */
uint64_t sl_now_us(void);
/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t sl_wall_ms(void);

#endif /* SL_CLOCK_H */
