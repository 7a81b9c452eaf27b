/* log: see log.h. The level is one atomic; a line is formatted into a stack buffer and
 * written with one write(2), so lines from different threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = SF_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sf_log_set_level(enum sf_log_level level)
{
    atomic_store(&log_level, (int)level);
}

const char *sf_log_level_name(enum sf_log_level level)
{
    return level_names[level];
}

bool sf_log_level_parse(const char *name, enum sf_log_level *out)
{
    for (int i = 0; i <= SF_LOG_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum sf_log_level)i;
            return true;
        }
    }
    return false;
}

static void log_va(enum sf_log_level level, const char *suffix, const char *fmt, va_list ap)
    SF_FORMAT(3, 0);

static void log_va(enum sf_log_level level, const char *suffix, const char *fmt, va_list ap)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level]);
    n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if ((size_t)n >= sizeof line - 64)
        n = (int)sizeof line - 64;
    n += snprintf(line + n, sizeof line - (size_t)n, "%s\n", suffix);
    ssize_t rc = write(STDERR_FILENO, line, (size_t)n);
    (void)rc; /* Nowhere to report a failure to log. */
}

void sf_log(enum sf_log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_va(level, "", fmt, ap);
    va_end(ap);
}

void sf_log_limited(struct sf_ratelimit *rl, uint64_t interval_ms, enum sf_log_level level,
                    const char *fmt, ...)
{
    if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    uint64_t now = sf_now_ms();
    uint_fast64_t last = atomic_load(&rl->last_ms);
    if (last != 0 && now - last < interval_ms) {
        atomic_fetch_add(&rl->suppressed, 1);
        return;
    }
    if (!atomic_compare_exchange_strong(&rl->last_ms, &last, now ? now : 1)) {
        atomic_fetch_add(&rl->suppressed, 1);
        return;
    }
    char suffix[64] = "";
    uint_fast64_t dropped = atomic_exchange(&rl->suppressed, 0);
    if (dropped > 0)
        snprintf(suffix, sizeof suffix, " (and %llu more like it)", (unsigned long long)dropped);
    va_list ap;
    va_start(ap, fmt);
    log_va(level, suffix, fmt, ap);
    va_end(ap);
}
