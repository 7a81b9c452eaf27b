/* singleflight: the object that is first a flight and then, if HTTP allows, a cached
 * response. One object per cache key is listed in the cache table; every request for the
 * key attaches to it, the fetcher fills it, and each attached client reads the same bytes
 * at its own offset. Private objects (pass-through methods, responses that cannot be
 * shared) use the same machinery with one client and no key.
 *
 * Lock order: cache table lock -> object lock -> hangup lock -> libmicrohttpd's locks.
 * A waiter parked on an object is watched for hangups (hangup.h) while it is parked.
 * Field annotations: (C) constant after creation, (L) object lock, (P) written once under
 * the lock when headers are published and constant after (readable without the lock once
 * state >= STREAMING was seen under it), (T) cache table lock, (F) fetcher thread only.
 *
 * Once an object is COMPLETE its segments, length and fields never change again (only the
 * fetcher writes them, and it has finished), so whoever saw COMPLETE under the lock, or
 * holds a stored object from the cache (stored objects are complete), may read them
 * without the lock for as long as it holds a reference: the zero-copy hit path does.
 *
 * Memory (docs/performance.md, "Memory per stored response"): a stored response is this
 * struct, its segments, its head packed in one block (hdrs.h, packed in sf_obj_publish
 * before readers can see it), its key and a share of the table; a one-segment body uses
 * seg_one as its segment table; a body of unknown length is copied to its exact size as
 * it completes (sf_obj_finish), its old segment kept for readers attached then. What the
 * cache charges is what those allocations hold (sf_obj_held_bytes). What only a flight
 * needs (its waiter and reader lists, leader, transfer, interim head, the leader's
 * withheld fields and its access log's upstream fields) is a side block, struct
 * sf_flight, that a stored response without readers does not keep. */
#ifndef SF_SINGLEFLIGHT_H
#define SF_SINGLEFLIGHT_H

#include "base.h"
#include "entry.h"
#include "park.h"
#include "http.h"
#include "policy.h"

#define SF_OBJ_MAGIC 0x5f0b1ec7u

enum sf_obj_state {
    SF_OBJ_PENDING,   /* waiting for response headers */
    SF_OBJ_STREAMING, /* headers published; body arriving */
    SF_OBJ_COMPLETE,  /* final: the whole body is here */
    SF_OBJ_FAILED,    /* final: see fail */
};

enum sf_fail {
    SF_FAIL_NONE,
    SF_FAIL_CONNECT,   /* refused, reset or garbage before headers: 502 */
    SF_FAIL_TIMEOUT,   /* no headers before the deadline: 504 */
    SF_FAIL_TRUNCATED, /* the body broke off after headers: close the connection */
    SF_FAIL_CANCELLED, /* nobody wanted it any more, or shutdown */
    SF_FAIL_FORBIDDEN, /* a forward-proxy destination resolved to a refused address: 403 */
};

/* Body storage: append-only segments; bytes below len never change, so a reader takes a
 * segment pointer and length under the lock and copies outside it. */
struct sf_seg {
    size_t off; /* offset of data[0] in the body */
    size_t cap;
    char data[];
};

/* The flight's own state: what only a fetch, its clients or a later reader need, apart
 * from what a stored response keeps (docs/performance.md, "Memory per stored response").
 * An object gets one in sf_obj_new; it is freed, under the object lock, once nothing of
 * the flight can need it (sf_obj_settle: the object final, no client attached, hence no
 * waiter parked, no leader and no retired segment, not on the with-readers list, its
 * fetch ended), and a new one is made, under the lock, when a reader attaches to an
 * object that has none (a stored response streamed to a client). So: an object that is
 * PENDING or STREAMING, has a client attached or a fetch running always has one, and
 * whoever holds the object lock, or is one of those, may use o->flight. Its fields keep
 * the annotations of struct sf_obj; a (P) field here is readable without the lock only by
 * an attached client or the fetch, which keep it alive. */
struct sf_flight {
    struct sf_obj *obj; /* (C) whose flight it is (for the with-readers list) */
    /* (L) The parked waiters, oldest first (through prev/next, NULL at both ends), and the
     * attached readers (through rprev/rnext, in no order, NULL-ended). */
    struct sf_waiter *waiters_first, *waiters_last;
    struct sf_waiter *readers_first;
    const void *leader;   /* (L) the client that started it, while attached */
    unsigned clients;     /* (L) attached clients */
    unsigned interim_seq; /* (L) how many interim heads were passed on (the latest: interim) */
    char *interim;        /* (L) the latest interim head (a 103) passed on, or NULL */
    /* (L) A body of unknown length whose one segment was copied into one of its exact
     * size as it completed (sf_obj_finish) while readers were attached: the old one, kept
     * until the last of them detaches, as they may be copying from it outside the lock. */
    struct sf_seg *seg_retired;
    /* The running transfer: written by the fetcher under the lock (so that settling can
     * see it), read by the fetcher alone (sf_obj_fetch when the flight may be gone). */
    void *fetch;
    struct sf_hdrs *own_hdrs; /* (P) fields for the leader alone (withheld from others), or NULL */
    /* For the leading client's access log line, read under the lock (sf_obj_upstream_log):
     * (P) the origin's final status (0: no head came) and the time to it; on an upstream
     * pool, the servers its fetch tried and their names (attempt.h), published with the
     * head, or, when none came, with the object's failure. */
    unsigned upstream_status;
    unsigned upstream_tries;
    char *upstream_addr; /* owned */
    int64_t upstream_ttfb_us;
    bool upstream_paused; /* (L) the transfer waits for its reader to catch up */
    bool with_readers;    /* (L) on the list of flights with readers (rl_prev, rl_next) */
    /* On the process's list of flights that have readers, or had and are still fetched
     * (sf_obj_with_readers): with_readers (L) says whether it is; the links are that
     * list's lock's alone (object lock -> that lock), as listing another writes them. */
    struct sf_flight *rl_prev, *rl_next;
};

/* The access log's upstream fields of a flight (struct sf_flight), as its leader saw them. */
struct sf_upstream_log {
    unsigned status; /* 0: no head came (or none was published yet) */
    unsigned tries;  /* 0: not on a pool, or nothing published yet */
    int64_t ttfb_us; /* -1 with status 0 */
    char *addr;      /* owned, or NULL */
};

struct sf_obj {
    unsigned magic;
    atomic_uint refs; /* table + fetch + one per attached client + one per hit response */
    /* NULL for a private object (constant). Otherwise the key it is listed under: (T),
     * changed only by the fetcher, which may also read it without the table lock. */
    char *key;
    struct sf_mutex lock;
    /* (L) The flight's state (struct sf_flight), or NULL. Written under the lock only;
     * an attached client or the running fetch may read it without, as it cannot change
     * while either is there. */
    struct sf_flight *flight;
    enum sf_obj_state state;   /* (L) forward only */
    enum sf_fail fail;         /* (L) set with state FAILED */
    int status;                /* (P) */
    unsigned clients_ever;     /* (L) clients that attached over its life (flight_clients) */
    struct sf_hdrs hdrs;       /* (P) response fields, hop-by-hop removed */
    int64_t content_length;    /* (P) -1 unknown */
    struct sf_verdict verdict; /* (P) */
    char *vary_names;          /* (P) what it varies on (sf_policy_vary_names), or NULL */
    char *variant;             /* (P) with vary_names: its request's sf_policy_variant */
    int64_t response_time_s;   /* (P) wall clock at headers */
    /* (L) The body's segments: segs points at seg_one while there is one (a body sized
     * by its Content-Length, most stored responses: no table of its own), at an array of
     * segs_cap on the heap once a second comes. */
    struct sf_seg **segs;
    struct sf_seg *seg_one;
    uint32_t nsegs, segs_cap; /* (L) */
    size_t len;               /* (L) body bytes received */
    size_t mem_bytes;         /* (L) bytes allocated for segments */

    /* Where it is in the cache (the cache's, (T)): entry.role says whether it is a listed
     * flight, a stored response, or not listed. */
    struct sf_entry entry;

    /* The expired response this flight may revalidate (RFC 9111 §4.3), a reference. (T):
     * set by the lookup that listed the flight; read by the leader, on that lookup's thread,
     * to make its request conditional and to give its fetch a reference (the fetcher reads
     * that one: sf_fetch_spec.stale, for a 304 refresh or stale-if-error);
     * the cache takes it back (and drops it) when the flight is stored, unlisted or marked
     * hit-for-pass, or freeing the flight drops it. (Not in struct sf_flight: the table
     * lock, not the object's, guards it.) */
    struct sf_obj *stale;
    uint32_t seg_first; /* (L) segments below this index were freed (trimmed) */
    bool pass;          /* (P) the response may not be shared */
    bool storable;      /* (L) may still be cached when complete */
    bool shared;        /* (C) it has a key: a flight others may join, and maybe stored */
    /* (T) set by the lookup that listed the flight, before anyone else can see it: the
     * clients that join it will share its response head (it is one variant's flight, or
     * it refreshes a stored response that did not vary), so the leader's 103s are theirs
     * too. */
    bool head_shared;
    bool revalidated;  /* (P) the head came from stale, refreshed by a 304 */
    bool served_stale; /* (P) the origin failed: this is stale, served (RFC 5861 §4) */
    bool from_disk;    /* (P) its head and body were read from the disk tier (diskhit.h) */
    bool unjoinable;   /* (L) no new reader may attach: body bytes may be freed */
    bool unproven;     /* (L) a cluster peer's answer whose body is proven only at its end
                        * (peerhop.h): until COMPLETE, readers do not get its last byte */
    bool dropped;      /* (L) its fetch is being given up: no reader may attach */
};

/* A new object with one reference, in state PENDING. key may be NULL (private). */
struct sf_obj *sf_obj_new(const char *key);
struct sf_obj *sf_obj_ref(struct sf_obj *o);
void sf_obj_unref(struct sf_obj *o); /* NULL is fine; the last reference frees */

void sf_obj_lock(struct sf_obj *o);
void sf_obj_unlock(struct sf_obj *o);

/* Publishes the response head: PENDING -> STREAMING. Takes over *hdrs. Lock held. Does not
 * wake: the fetcher wakes once per pass, so waiters get the head and the first body bytes
 * together. */
void sf_obj_publish(struct sf_obj *o, int status, struct sf_hdrs *hdrs, int64_t content_length,
                    const struct sf_verdict *verdict, int64_t response_time_s);
/* Appends body bytes (state STREAMING). Lock held. Does not wake: the fetcher wakes
 * readers once per pass with sf_obj_take_waiters. */
void sf_obj_append(struct sf_obj *o, const char *data, size_t len);
/* Final transition: COMPLETE when fail is SF_FAIL_NONE, else FAILED. Lock held. Returns
 * every parked waiter, for sf_waiters_wake after unlocking. A body that may be stored and
 * lies in one segment larger than itself (its length was unknown: the first segment is 4
 * KiB) is copied into a segment of its exact size, in the same hold of the lock as it
 * becomes COMPLETE, so whoever sees it complete sees only the new one (seg_retired). */
struct sf_waiter *sf_obj_finish(struct sf_obj *o, enum sf_fail fail);
/* Takes every parked waiter off the list (lock held); returns them linked through next,
 * NULL-terminated, still suspended: the caller must pass them to sf_waiters_wake. */
struct sf_waiter *sf_obj_take_waiters(struct sf_obj *o);

/* The bytes o's allocations hold (held.h): itself, its segments and their table, its head,
 * key and other strings; what the cache charges a stored response, with the table's share
 * (sf_table_entry_share). Not its flight (struct sf_flight, with seg_retired and the
 * leader's withheld fields), freed once its fetch and last reader are done: a stored
 * response without readers keeps none. Lock held, or o complete. */
size_t sf_obj_held_bytes(struct sf_obj *o);

/* The object's flight state (struct sf_flight) as the fetch and its clients use it. */

/* The client attached to o that leads its flight, or none (NULL); lock held, client
 * attached. */
void sf_obj_set_leader(struct sf_obj *o, const void *leader);
/* Whether client leads o's flight (lock held). */
bool sf_obj_led_by(const struct sf_obj *o, const void *client);
/* Attached clients (lock held): 0 when o has no flight. */
unsigned sf_obj_clients(const struct sf_obj *o);
/* Sets o's running transfer, or clears it (NULL) as it ends, when o's flight may be
 * freed (sf_obj_settle). No lock held: it takes o's. Runs on: the fetcher thread. */
void sf_obj_set_fetch(struct sf_obj *o, void *fetch);
/* o's running transfer, or NULL. No lock held: it takes o's. Runs on: the fetcher thread. */
void *sf_obj_fetch(struct sf_obj *o);
/* Copies the access log's upstream fields of o's flight into *out (the caller frees
 * out->addr), once its head or failure is published; zeros (ttfb -1) before, or when o has
 * no flight. Lock held. */
void sf_obj_upstream_log(const struct sf_obj *o, struct sf_upstream_log *out);
/* Frees o's flight if nothing of it can be needed any more (struct sf_flight); lock held.
 * sf_obj_finish, sf_obj_detach and sf_obj_set_fetch call it. */
void sf_obj_settle(struct sf_obj *o);

/* Borrows the contiguous bytes at pos: *data and the count (0 if pos >= len). The bytes stay
 * valid while the caller holds a reference. Lock held. */
size_t sf_obj_peek(struct sf_obj *o, size_t pos, size_t *seg_hint, const char **data);

/* Writes an interim response (head: its bytes, RFC 9110 §15.2) straight to the socket of
 * every waiter parked on o for its response head that has been sent nothing (an HTTP/1.1
 * client, waiter.probe) and will share the final response (waiter.hints): libmicrohttpd
 * has written nothing for it and will write its final response after. No lock held: it
 * takes o's lock to take those waiters off the list, writes without it, and takes it again
 * to park them back. o keeps head for waiters that come later (sf_obj_catch_up_interim).
 * Returns, for sf_waiters_wake, the clients whose socket took only part of it (dropped as
 * gone) and any that must see o anew (its head came, or it was shed, meanwhile). Runs
 * on: the fetcher thread. */
struct sf_waiter *sf_obj_send_interim(struct sf_obj *o, const char *head, size_t len);
/* Sends w, about to park for o's head, the interim response it has not had yet, if any
 * (lock held; on w's libmicrohttpd worker, before it parks). False when its socket took
 * only part of it: the connection must close. */
bool sf_obj_catch_up_interim(struct sf_obj *o, struct sf_waiter *w);

/* Parks w on o (lock held): it will be woken by new data, a final state or its client's
 * hangup (when w has a hangup watcher). False, with nothing done, when parking is
 * closed. */
bool sf_obj_park(struct sf_obj *o, struct sf_waiter *w);
/* Takes w off o's list without waking it (lock held); a no-op if it is not parked. */
void sf_obj_unpark(struct sf_obj *o, struct sf_waiter *w);
/* How far the slowest reader may lag behind the fetch of an object that is not being
 * stored before the fetch pauses for it: with one reader, and with several (then the
 * others run ahead that far before they wait for it; see sf_obj_should_pause). */
#define SF_OBJ_LAG_MAX (1u << 20)
#define SF_OBJ_SHARED_LAG_MAX (8u << 20)

/* Attaches w as a reader from offset 0 (lock held). False when the body's start has been
 * freed, or the fetch is being given up (sf_obj_drop_if_unwanted): the caller must fetch
 * on its own. */
bool sf_obj_attach(struct sf_obj *o, struct sf_waiter *w);
/* Detaches a reader (lock held); unparks it if parked. Returns true when that let a
 * paused fetch continue (then call sf_upstream_unpause). */
bool sf_obj_detach(struct sf_obj *o, struct sf_waiter *w);
/* Marks the object closed to new readers (lock held). Once it is not being stored either,
 * bytes every reader has passed are freed as the body grows, so a pass-through download
 * holds only what its readers have yet to read. */
void sf_obj_close_joins(struct sf_obj *o);
/* Whether o's fetch may ever pause for its slowest reader (lock held): it is not being
 * stored and no new reader may join, so its body is held only as far as its readers lag. */
bool sf_obj_may_pause(const struct sf_obj *o);
/* Whether the fetch should pause before appending more (lock held): the object is not
 * being stored and its slowest reader lags by more than SF_OBJ_LAG_MAX, or, with several
 * readers, SF_OBJ_SHARED_LAG_MAX: a slow client slows the others only once they are that
 * far ahead, and memory stays bounded however slow it is. */
bool sf_obj_should_pause(const struct sf_obj *o);
/* Records that w's reader asks for pos (lock held): bytes below pos are consumed. Returns
 * true when that let a paused fetch continue (then call sf_upstream_unpause). */
bool sf_obj_reader_at(struct sf_obj *o, struct sf_waiter *w, size_t pos);

/* References to every object that has an attached reader now, or had one and is still
 * fetched (its clients left: it fills the cache) (any thread, no lock
 * held): an array of *n the caller frees after unreferencing each. For the pinned-memory
 * pass (pinned.h), which decides what they cost. */
struct sf_obj **sf_obj_with_readers(size_t *n);
/* Sheds every attached reader of o that is not shed yet (lock held): its response ends
 * with an error at its next read, so its client sees a truncated body; a parked one is
 * taken off the list (returned, linked through next, for sf_waiters_wake after
 * unlocking), one that is not is cut by shutting its socket down (libmicrohttpd, which
 * waits to write to it, then fails and closes the connection: its reference goes with
 * it). Returns how many were shed in *count. */
struct sf_waiter *sf_obj_shed_readers(struct sf_obj *o, size_t *count);

/* Whether the object will still be worth finishing with no client attached: a shared
 * object that may be stored, or one whose headers have not arrived. Lock held. */
bool sf_obj_worth_finishing(const struct sf_obj *o);
/* Whether the fetch of o, still running, is to be given up now: no client is attached
 * and it is not worth finishing. Then, in the same hold of the lock, o takes no new reader: one that looked o
 * up meanwhile fetches on its own rather than attach to a fetch about to fail. The
 * fetcher decides it (lock held), and fails the transfer after unlocking. */
bool sf_obj_drop_if_unwanted(struct sf_obj *o);

#endif
