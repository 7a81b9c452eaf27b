/* base: what every sfproxy file uses: error codes, assertions that stay on in release
 * builds, object magic checks, a mutex that knows its owner, allocation that aborts with
 * the caller's name, and the monotonic clock. */
#ifndef SF_BASE_H
#define SF_BASE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a call that can fail returned (the message for a person goes with it). Only the
 * codes something returns are here: add one with its first user. */
enum sf_err {
    SF_OK = 0,
    SF_EINVAL, /* bad input: a config value, a request */
    SF_ENOENT, /* a file or a key that does not exist */
};

/* A static string naming err, for logs. */
const char *sf_strerror(enum sf_err err);

#define SF_FORMAT(fmt_idx, args_idx) __attribute__((format(printf, fmt_idx, args_idx)))

_Noreturn void sf_assert_fail(const char *expr, const char *file, int line, const char *func);

/* On in every build: an assertion guards an invariant, never input. */
#define SF_ASSERT(e) ((e) ? (void)0 : sf_assert_fail(#e, __FILE__, __LINE__, __func__))
#define SF_CHECK_OBJ(p, m) SF_ASSERT((p) != NULL && (p)->magic == (m))
/* pthread calls return 0, or the process stops with the call that failed. */
#define SF_PTOK(call) ((call) == 0 ? (void)0 : sf_assert_fail(#call, __FILE__, __LINE__, __func__))
/* An assertion too costly to keep on everywhere (a walk of a list, say): checked only in
 * builds with SF_DEBUG (the ASan build and the fuzzers, Makefile). What it calls may exist
 * only #ifdef SF_DEBUG. */
#ifdef SF_DEBUG
#define SF_DEBUG_ASSERT(e) SF_ASSERT(e)
#else
#define SF_DEBUG_ASSERT(e) ((void)0)
#endif

/* A mutex that records its owning thread, so code can assert it holds a lock. */
struct sf_mutex {
    pthread_mutex_t m;
    atomic_uintptr_t owner; /* 0 when unlocked */
};

void sf_mutex_init(struct sf_mutex *mx);
void sf_mutex_destroy(struct sf_mutex *mx);
void sf_mutex_lock(struct sf_mutex *mx);
void sf_mutex_unlock(struct sf_mutex *mx);
bool sf_mutex_held(const struct sf_mutex *mx);
#define sf_mutex_assert_held(mx) SF_ASSERT(sf_mutex_held(mx))
/* Waits on cv (which must use the monotonic clock: sf_cond_init) for at most ms, with mx
 * held on entry and on return. Callers re-check their predicate in a loop. */
void sf_cond_init(pthread_cond_t *cv);
void sf_cond_wait_ms(pthread_cond_t *cv, struct sf_mutex *mx, uint64_t ms);

/* Allocation of small fixed-size things: on failure the process stops, naming the size and
 * the caller. Network-sized data has limits of its own and never comes through here. */
#define SF_NONNULL_RESULT __attribute__((returns_nonnull))
void *sf_xmalloc_at(size_t size, const char *caller) SF_NONNULL_RESULT;
void *sf_xcalloc_at(size_t n, size_t size, const char *caller) SF_NONNULL_RESULT;
void *sf_xrealloc_at(void *p, size_t size, const char *caller) SF_NONNULL_RESULT;
char *sf_xstrdup_at(const char *s, const char *caller) SF_NONNULL_RESULT;
char *sf_xstrndup_at(const char *s, size_t len, const char *caller) SF_NONNULL_RESULT;
#define sf_xmalloc(n) sf_xmalloc_at((n), __func__)
#define sf_xcalloc(n, s) sf_xcalloc_at((n), (s), __func__)
#define sf_xrealloc(p, n) sf_xrealloc_at((p), (n), __func__)
#define sf_xstrdup(s) sf_xstrdup_at((s), __func__)
#define sf_xstrndup(s, n) sf_xstrndup_at((s), (n), __func__)
/* A copy of s, or NULL when s is NULL. */
#define sf_xstrdup_opt(s) ((s) != NULL ? sf_xstrdup_at((s), __func__) : NULL)

/* Monotonic milliseconds, for deadlines and ages measured inside the process. */
uint64_t sf_now_ms(void);
/* Monotonic microseconds, for measuring how long something took (the test clock does
 * not move it). */
uint64_t sf_mono_us(void);
/* Wall-clock seconds since the epoch, for HTTP dates. */
int64_t sf_wall_s(void);
/* Moves both clocks forward by ms, for the rest of the process: tests only (sfproxy's
 * --test-clock), so that expiry is tested without sleeping. */
void sf_clock_advance(uint64_t ms);

/* ASCII case-insensitive comparisons; HTTP field names are ASCII. */
bool sf_streq_ci_slow(const char *a, const char *b);
/* Inline, since most calls (a name against a list of names, a field against a head's)
 * differ at the first byte: bytes equal but for bit 0x20 may be the same letter, any
 * others never are. About 300 calls a miss. */
static inline bool sf_streq_ci(const char *a, const char *b)
{
    return (((unsigned char)*a ^ (unsigned char)*b) & ~0x20) == 0 && sf_streq_ci_slow(a, b);
}
bool sf_strneq_ci(const char *a, const char *b, size_t n);

/* splitmix64's finaliser: every input bit moves every output bit (unkeyed: for placing
 * keys on servers the same way on every node and after a restart, never for a table a
 * client fills, which siphash.h's keyed hash is for). */
static inline uint64_t sf_mix64(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

#endif
