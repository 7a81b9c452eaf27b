/* health: one upstream server's health (issue 21), as nginx and HAProxy define it, and
 * nothing else: active probe results fed in (HAProxy's rise/fall), passive failures of real
 * transfers (nginx's max_fails/fail_timeout), and the operator's drain, kept apart from
 * health. One question answers them all: may a new fetch go to this server now, and if not,
 * why. Every change of state is returned once, as an event, by the call that made it, so the
 * caller logs one line per change. Pure: no threads, no I/O, no config; the clock is the
 * now_ms each call is given (monotonic milliseconds).
 *
 * Thread-safety: none inside. The caller serialises every call on one sf_health (the pool's
 * lock, which server choice holds anyway). Both the prober and the fetcher feed it, and a
 * transition reads and writes several fields together (a count, a window, a deadline), which
 * per-field atomics cannot make happen exactly once; decisions go through locks (STYLE.md). */
#ifndef SF_HEALTH_H
#define SF_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

struct sf_health;

struct sf_health_conf {
    unsigned fall;      /* consecutive failed probes that take an up server down; 0: no probes */
    unsigned rise;      /* consecutive good probes that bring a down server up; 0: no probes */
    unsigned max_fails; /* passive failures within fail_timeout_ms; 0: never marked */
    uint64_t fail_timeout_ms; /* the window of max_fails, and how long passive-down lasts */
    bool start_down;          /* false (HAProxy's default): up until the probes say otherwise */
};

/* Why a server is or is not usable, most binding first: a drained server reads DRAINED
 * whatever its health, a server down by its probes reads PROBES even when passive failures
 * also marked it. */
enum sf_health_why {
    SF_HEALTH_UP = 0,
    SF_HEALTH_DRAINED,
    SF_HEALTH_DOWN_PROBES,
    SF_HEALTH_DOWN_PASSIVE,
};

/* The transitions a call may report, as bits of its result (0: none). One call can make
 * two (a good probe that brings a server up also ends its passive-down; a failure just
 * after a passive-down expired reports the expiry and the new down): logged in bit order,
 * they read in the order they happened. */
#define SF_HEALTH_EV_PASSIVE_UP 1u   /* passive-down over: fail_timeout passed, or proof */
#define SF_HEALTH_EV_PASSIVE_DOWN 2u /* max_fails within fail_timeout */
#define SF_HEALTH_EV_PROBES_DOWN 4u  /* fall consecutive failed probes */
#define SF_HEALTH_EV_PROBES_UP 8u    /* rise consecutive good probes */
#define SF_HEALTH_EV_DRAIN 16u
#define SF_HEALTH_EV_UNDRAIN 32u

struct sf_health_counters {
    uint64_t probes_ok, probes_failed;
    uint64_t passive_failures;
    uint64_t transitions; /* events reported, one per bit */
};

/* A server's health under conf (copied). Caller frees with sf_health_free (NULL is fine).
 * A conf that asks for probes must give both rise and fall. */
struct sf_health *sf_health_new(const struct sf_health_conf *conf);
void sf_health_free(struct sf_health *h);

/* A reload's settings for a server that stays (its URL did not change): the drain, the
 * counters, the probes' verdict and a passive-down in force are kept. A run of probe
 * results toward a flip starts again; with probes now off the server is up as far as probes
 * go (nothing could bring it back; reported); a new max_fails forgets the failures counted so far,
 * and max_fails 0 ends a passive-down (reported). *h may move. Returns the events. */
unsigned sf_health_reconf(struct sf_health **h, const struct sf_health_conf *conf);

/* One active probe's result. Returns the events it caused. */
unsigned sf_health_probe(struct sf_health *h, bool ok, uint64_t now_ms);

/* One real transfer's outcome: failed when it was refused, reset or timed out before its
 * head, or answered with a status the pool counts as a failure. Returns the events. */
unsigned sf_health_passive(struct sf_health *h, bool failed, uint64_t now_ms);

/* The operator's word: drain (no new fetches; running ones are the caller's to finish) or
 * not (back to what health says; never forces a failing server up). Returns the events. */
unsigned sf_health_set_drain(struct sf_health *h, bool drain, uint64_t now_ms);

/* Reports a passive-down that has run out by now_ms (the prober calls it each interval, so
 * the line is logged even when no traffic comes). Returns the events. */
unsigned sf_health_tick(struct sf_health *h, uint64_t now_ms);

/* Whether a new fetch may go to the server at now_ms; *why (may be NULL) says why not. A
 * passive-down whose end has passed already counts as usable here, reported or not. When
 * it returns SF_HEALTH_DOWN_PASSIVE, *until_ms (may be NULL) is when it ends. */
bool sf_health_usable(const struct sf_health *h, uint64_t now_ms, enum sf_health_why *why,
                      uint64_t *until_ms);

struct sf_health_counters sf_health_counters(const struct sf_health *h);

/* Static names for logs and stats: "up", "drained", "down (probes)", "down (passive)";
 * an event bit's "passive up", "passive down", "probes down", "probes up", "drain", "undrain". */
const char *sf_health_why_name(enum sf_health_why why);
const char *sf_health_event_name(unsigned event_bit);

#endif
