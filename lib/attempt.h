/* attempt: the attempts one fetch makes on an upstream pool (issue 21): the URL an attempt
 * fetches (the pool's key_base, under which the fetch is keyed and named, replaced by the
 * chosen server's URL), whether a failed attempt may be sent again to another server, and
 * the servers tried, for the access log (nginx's $upstream_addr). Which server is chosen
 * is pool.h's. Pure: no threads, no I/O, no clock. */
#ifndef SF_ATTEMPT_H
#define SF_ATTEMPT_H

#include "balance.h"

struct sf_pool_def; /* config-t.h */

/* A fetch's attempts so far. Lives in its spec, so a transfer started again for the next
 * server finds it. Zeroed: none yet. (F) all fields: the fetcher thread's. */
struct sf_attempts {
    sf_balance_set tried; /* the servers tried, by index in the pool's def */
    unsigned tries;       /* attempts started */
    int server;           /* the running attempt's server (with tries > 0) */
    uint64_t deadline_ms; /* the first byte is due by then, all attempts together */
    uint64_t start_us;    /* when the first attempt started (sf_mono_us) */
    char *addrs;          /* the names of the servers tried, comma-separated; owned */
};

/* What url (which starts with key_base) fetches on the server at server_url: its path (and
 * query) joined to the server's URL as sf_http_join_url joins a target. Caller frees. */
char *sf_attempt_url(const char *url, const char *key_base, const char *server_url);

/* Records that an attempt starts on server (its index and name). */
void sf_attempt_note(struct sf_attempts *a, int server, const char *name);

/* Whether a request may be sent again to another server after an attempt that got no
 * usable head: always when nothing reached the server (not connected); after that, only
 * when it has no content and its method is idempotent (RFC 9110 §9.2.2: GET, HEAD,
 * OPTIONS, TRACE, PUT, DELETE), since the server may have acted on it. Never a POST that
 * may have reached the origin. */
bool sf_attempt_may_resend(const char *method, bool has_content, bool connected);

/* Whether def counts status as a failure to retry on another server (passive.statuses). */
bool sf_attempt_fail_status(const struct sf_pool_def *def, int status);

/* Whether another attempt may start: def's retries not used up and a server left (the
 * caller asks the pool which). */
bool sf_attempt_retries_left(const struct sf_attempts *a, const struct sf_pool_def *def);

/* Frees what a holds and zeroes it. */
void sf_attempts_clear(struct sf_attempts *a);

#endif
