/*
 * clock.h - the two clocks the gateway reads.
 */
#ifndef SMSGW_CLOCK_H
#define SMSGW_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Wall-clock time as Unix milliseconds: what is stored and shown. */
static inline int64_t
clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic milliseconds: for timeouts and deadlines, immune to clock
 * changes (a Raspberry Pi without RTC jumps at NTP sync). */
static inline int64_t
clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
