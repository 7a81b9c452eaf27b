/* log: leveled lines on stderr, each with a UTC timestamp and level. A repeating error
 * (origin down) goes through a struct sf_ratelimit and is printed once per interval with
 * the number of times it happened. Thread-safe: each line is one write. */
#ifndef SF_LOG_H
#define SF_LOG_H

#include "base.h"

enum sf_log_level { SF_LOG_ERROR, SF_LOG_WARN, SF_LOG_INFO, SF_LOG_DEBUG };

void sf_log_set_level(enum sf_log_level level);
/* Parses "error", "warn", "info" or "debug"; false for anything else. */
bool sf_log_level_parse(const char *name, enum sf_log_level *out);
/* The name sf_log_level_parse reads as level. */
const char *sf_log_level_name(enum sf_log_level level);
void sf_log(enum sf_log_level level, const char *fmt, ...) SF_FORMAT(2, 3);

#define sf_log_error(...) sf_log(SF_LOG_ERROR, __VA_ARGS__)
#define sf_log_warn(...) sf_log(SF_LOG_WARN, __VA_ARGS__)
#define sf_log_info(...) sf_log(SF_LOG_INFO, __VA_ARGS__)
#define sf_log_debug(...) sf_log(SF_LOG_DEBUG, __VA_ARGS__)

/* One per kind of repeating message; zero-initialise it. */
struct sf_ratelimit {
    atomic_uint_fast64_t last_ms;    /* when it was last printed */
    atomic_uint_fast64_t suppressed; /* how many were dropped since */
};

/* Logs at most once per interval_ms, adding "(and N more like it)". */
void sf_log_limited(struct sf_ratelimit *rl, uint64_t interval_ms, enum sf_log_level level,
                    const char *fmt, ...) SF_FORMAT(4, 5);

#endif
