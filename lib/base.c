/* base: see base.h. The state kept here: the per-thread marker sf_mutex uses to name its
 * owner, and the offset the test clock (--test-clock, sf_clock_advance) adds to both
 * clocks. */
#include "base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *sf_strerror(enum sf_err err)
{
    switch (err) {
    case SF_OK: return "success";
    case SF_EINVAL: return "invalid input";
    case SF_ENOENT: return "not found";
    }
    return "unknown error";
}

void sf_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "sfproxy: assertion failed: %s at %s:%d in %s()\n", expr, file, line, func);
    fflush(stderr);
    abort();
}

/* The address of a thread-local is unique among live threads: a cheap owner id. */
static _Thread_local char thread_marker;

void sf_mutex_init(struct sf_mutex *mx)
{
    SF_PTOK(pthread_mutex_init(&mx->m, NULL));
    atomic_init(&mx->owner, 0);
}

void sf_mutex_destroy(struct sf_mutex *mx)
{
    SF_ASSERT(atomic_load_explicit(&mx->owner, memory_order_relaxed) == 0);
    SF_PTOK(pthread_mutex_destroy(&mx->m));
}

void sf_mutex_lock(struct sf_mutex *mx)
{
    SF_PTOK(pthread_mutex_lock(&mx->m));
    atomic_store_explicit(&mx->owner, (uintptr_t)&thread_marker, memory_order_relaxed);
}

void sf_mutex_unlock(struct sf_mutex *mx)
{
    SF_ASSERT(sf_mutex_held(mx));
    atomic_store_explicit(&mx->owner, 0, memory_order_relaxed);
    SF_PTOK(pthread_mutex_unlock(&mx->m));
}

bool sf_mutex_held(const struct sf_mutex *mx)
{
    return atomic_load_explicit(&mx->owner, memory_order_relaxed) == (uintptr_t)&thread_marker;
}

void sf_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    SF_PTOK(pthread_condattr_init(&attr));
    SF_PTOK(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC));
    SF_PTOK(pthread_cond_init(cv, &attr));
    SF_PTOK(pthread_condattr_destroy(&attr));
}

void sf_cond_wait_ms(pthread_cond_t *cv, struct sf_mutex *mx, uint64_t ms)
{
    SF_ASSERT(sf_mutex_held(mx));
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    atomic_store_explicit(&mx->owner, 0, memory_order_relaxed); /* the wait lets it go */
    int rc = pthread_cond_timedwait(cv, &mx->m, &until);
    SF_ASSERT(rc == 0 || rc == ETIMEDOUT);
    atomic_store_explicit(&mx->owner, (uintptr_t)&thread_marker, memory_order_relaxed);
}

static _Noreturn void out_of_memory(size_t size, const char *caller)
{
    fprintf(stderr, "sfproxy: out of memory allocating %zu bytes in %s()\n", size, caller);
    abort();
}

void *sf_xmalloc_at(size_t size, const char *caller)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        out_of_memory(size, caller);
    return p;
}

void *sf_xcalloc_at(size_t n, size_t size, const char *caller)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        out_of_memory(n * size, caller);
    return p;
}

void *sf_xrealloc_at(void *p, size_t size, const char *caller)
{
    void *q = realloc(p, size ? size : 1);
    if (q == NULL)
        out_of_memory(size, caller);
    return q;
}

char *sf_xstrdup_at(const char *s, const char *caller)
{
    return sf_xstrndup_at(s, strlen(s), caller);
}

char *sf_xstrndup_at(const char *s, size_t len, const char *caller)
{
    char *p = sf_xmalloc_at(len + 1, caller);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* What sf_clock_advance added to both clocks (0 outside tests). */
static _Atomic uint64_t clock_offset_ms;

uint64_t sf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u +
           atomic_load_explicit(&clock_offset_ms, memory_order_relaxed);
}

uint64_t sf_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t sf_wall_s(void)
{
    return (int64_t)time(NULL) +
           (int64_t)(atomic_load_explicit(&clock_offset_ms, memory_order_relaxed) / 1000u);
}

void sf_clock_advance(uint64_t ms)
{
    atomic_fetch_add(&clock_offset_ms, ms);
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

bool sf_strneq_ci(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
        if (a[i] == '\0')
            return true;
    }
    return true;
}

bool sf_streq_ci_slow(const char *a, const char *b)
{
    /* Field names mostly come in one spelling: equal bytes need no folding. */
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x != y && lower(x) != lower(y))
            return false;
        if (x == '\0')
            return true;
    }
}
