/* park: a client parked (its connection suspended) on a place it waits on: an object's
 * data (singleflight.h) or room in its upload's pipe (reqbody.h). The waiter is the
 * front's; the place keeps it on a list under the place's own lock, and whoever takes it
 * off resumes it (sf_waiters_wake). While parked it may be watched for its client hanging
 * up (hangup.h), through the place's sf_place_ops.
 *
 * The parking gate, and the count of parked clients that an orderly stop waits on: once
 * the gate is closed nothing new parks, so when the count reaches 0 it stays 0: no
 * connection is suspended any more, and libmicrohttpd may be stopped (it aborts the
 * process otherwise). Any thread. */
#ifndef SF_PARK_H
#define SF_PARK_H

#include "base.h"

struct sf_waiter;
/* Wakes (resumes) a waiter that left its place: called with no lock held. w may be freed
 * by another thread as soon as the wake has happened. */
typedef void sf_wake_cb(struct sf_waiter *w);
struct sf_hangup;

/* A parked client: embedded in the front's request. (L): the lock of the place it is
 * parked on (or, for the reader fields, of the object it reads). */
struct sf_waiter {
    struct sf_waiter *prev, *next;   /* (L) on its place's list while parked */
    sf_wake_cb *wake;                /* (C) */
    struct sf_hangup *hangup;        /* (C) watches it while parked; NULL: never */
    int fd;                          /* client socket, or -1 not to watch it */
    uint64_t watch_id;               /* (L) hangup slot while watched */
    bool watched;                    /* (L) */
    bool parked;                     /* (L) */
    bool gone;                       /* (L) the client hung up while parked */
    bool probe;                      /* (L) nothing was sent for this request yet, and it is
                                    * HTTP/1.1: an interim 100 may be written to it */
    bool half_closed;                /* (L) the client shut its sending side (it may still
                                    * read: RFC 9112 §9.6); only a reset means it is gone */
    struct sf_waiter *rprev, *rnext; /* (L) on the object's list of attached readers */
    size_t pos;                      /* (L) the reader has consumed the body below this */
    uint64_t progress_ms;            /* (L) when it last read, attached, or was woken
                                      * (until then it waited for data, not idle) */
    bool shed;                       /* (L) shed to bound pinned memory (pinned.h): its
                                      * response ends with an error, its connection closes */
    bool on_obj;                     /* (L) parked on the object it reads (not on its
                                      * upload's pipe): the object's lock guards this one */
    bool by_socket;                  /* (L) a stored body sent whole (no reads to see): its
                                      * progress is what its socket says was acknowledged */
    uint64_t acked;                  /* (L) with by_socket: bytes acknowledged when last
                                      * looked at (UINT64_MAX: not yet) */
    unsigned interim_seen;           /* (L) its object's interim_seq when last sent one */
    bool hints;                      /* (L) it may be sent its object's 103s: it will
                                      * share the final response they precede */
};

/* What a place offers the hangup watcher, which finds a parked waiter by its socket and
 * must reach it safely from another thread: keep the place alive, take its lock, and take
 * off a waiter whose client is gone (lock held; returns it as a list for
 * sf_waiters_wake). */
struct sf_place_ops {
    void (*ref)(void *place);
    void (*unref)(void *place);
    void (*lock)(void *place);
    void (*unlock)(void *place);
    struct sf_waiter *(*drop_gone)(void *place, struct sf_waiter *w);
};

/* Wakes each waiter of a list (linked through next, NULL-terminated) that its place took
 * off: resumes it and ends its parking. No lock held. */
void sf_waiters_wake(struct sf_waiter *list);

/* Counts a client about to park and says whether it may (false once the gate is closed:
 * then nothing was counted). */
bool sf_park_begin(void);
/* A parked client was resumed (or its park undone before it was suspended). */
void sf_park_end(void);
/* Closes the gate for good. */
void sf_park_close(void);
/* Parked clients now. */
int64_t sf_park_count(void);

#endif
