/* hangup: notices parked clients that hang up. libmicrohttpd does not watch suspended
 * connections, so each parked waiter's socket sits in an epoll set for EPOLLRDHUP; the
 * set's descriptor is polled by the fetcher thread next to its curl transfers. The watch
 * is the waiter's (park.h): whatever place it parks on (an object, an upload's pipe)
 * starts it and stops it under that place's lock, and a hangup takes the waiter off that
 * place through the place's sf_place_ops.
 *
 * A slot table with generations makes a late event harmless: the event carries the slot
 * id, and a waiter that was woken (and maybe freed) in the meantime has retired its id.
 *
 * A watch is armed (its socket put in the set: one epoll_ctl) only once its waiter has
 * been parked SF_HANGUP_ARM_MS, by the fetcher: most parked clients of a miss are woken
 * sooner, and never cost the system call. A client that hangs up meanwhile is noticed
 * when its watch is armed (EPOLLRDHUP is a state, reported at once when armed after it).
 * Lock order: place lock -> hangup lock -> the waker's (the fetcher's queue lock). */
#ifndef SF_HANGUP_H
#define SF_HANGUP_H

#include "park.h"

/* How long a parked waiter goes unwatched: a hangup is noticed at most this much later. */
#define SF_HANGUP_ARM_MS 10

struct sf_hangup *sf_hangup_new(void);
void sf_hangup_free(struct sf_hangup *h);
/* The epoll descriptor to poll for readability. */
int sf_hangup_fd(const struct sf_hangup *h);

/* Watches w's client while w is parked on place: called when it parks, with the place's
 * lock held. A no-op unless w has a watcher (w->hangup) and a socket. */
void sf_hangup_watch(struct sf_waiter *w, void *place, const struct sf_place_ops *ops);
/* Stops watching w (the place's lock held), retiring its id; a no-op when not watched. */
void sf_hangup_unwatch(struct sf_waiter *w);

/* Sets what interrupts the fetcher's sleep when a watch is queued while the fetcher sleeps
 * unaware of it (NULL: nothing; the hangup lock is held when wake runs). */
void sf_hangup_set_waker(struct sf_hangup *h, void (*wake)(void *), void *arg);

/* Arms the watches of waiters parked for SF_HANGUP_ARM_MS by now_ms, forgets those woken
 * before theirs was armed, and marks the fetcher asleep. Returns the milliseconds until the
 * next watch is due (at most SF_HANGUP_ARM_MS), or -1 when none waits.
 * Runs on: the fetcher thread, with no locks held, just before it sleeps. */
long sf_hangup_before_sleep(struct sf_hangup *h, uint64_t now_ms);
/* The fetcher is awake again: it will look at the queued watches before it next sleeps. */
void sf_hangup_after_sleep(struct sf_hangup *h);

/* Handles ready events: for each client that hung up and is still parked, takes it off its
 * place (drop_gone), and wakes it. Returns the number dropped.
 * Runs on: the fetcher thread, with no locks held. */
size_t sf_hangup_dispatch(struct sf_hangup *h);

#endif
