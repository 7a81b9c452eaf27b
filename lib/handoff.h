/* handoff: lets threads waiting for a mutex in before its holder takes it back, for a
 * holder that works in bounded steps under it (the disk store's writer sweeping a full
 * index). Unlocking and locking again does not: glibc's mutex does not hand off, and the
 * holder, still running, takes it straight back, so a reader waited behind the whole
 * sweep (20-59 ms for a million entries, measured) whatever the steps' size.
 *
 * Those to be let in lock through sf_handoff_lock, which counts them while they wait; the
 * holder calls sf_handoff_yield between its steps: when any is counted, it waits on a
 * condition variable (the mutex let go meanwhile) until those counted when it began have
 * had the mutex, or at most max_ms. Not until none waits: under a steady stream of
 * lockers that would be the whole max_ms at every step (a review measured a sweep of 1,000
 * steps going from 60 ms to 1.2 s with 32 readers). Others may lock the mutex directly:
 * they are simply not waited for.
 *
 * Thread: any; the struct lives beside its mutex, initialised with it. */
#ifndef SF_HANDOFF_H
#define SF_HANDOFF_H

#include "base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct sf_handoff {
    atomic_uint_fast64_t arrived; /* (A) lockers that began to wait for the mutex, ever */
    uint64_t entered;             /* (L: the mutex) of them, those that got it */
    uint64_t target;              /* (L) with yielding: the holder waits for entered >= this */
    bool yielding;                /* (L) the holder waits on cv */
    pthread_cond_t cv;            /* (L) entered reached target */
};

void sf_handoff_init(struct sf_handoff *h);
void sf_handoff_destroy(struct sf_handoff *h);

/* Locks mx, counted as waiting meanwhile. */
void sf_handoff_lock(struct sf_handoff *h, struct sf_mutex *mx);

/* With mx held: lets the counted lockers have it first, waiting at most max_ms for them;
 * mx is held again on return. Whether any was waiting. */
bool sf_handoff_yield(struct sf_handoff *h, struct sf_mutex *mx, uint64_t max_ms);

#endif
