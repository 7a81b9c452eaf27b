/* hangup: notices parked clients that hang up. libmicrohttpd does not watch suspended
 * connections, so each parked waiter's socket sits in an epoll set for EPOLLRDHUP; the
 * set's descriptor is polled by the fetcher thread next to its curl transfers. The watch
 * is the waiter's (park.h): whatever place it parks on (an object, an upload's pipe)
 * starts it and stops it under that place's lock, and a hangup takes the waiter off that
 * place through the place's sf_place_ops.
 *
 * A slot table with generations makes a late event harmless: the event carries the slot
 * id, and a waiter that was woken (and maybe freed) in the meantime has retired its id.
 * Lock order: place lock -> hangup lock. */
#ifndef SF_HANGUP_H
#define SF_HANGUP_H

#include "park.h"

struct sf_hangup *sf_hangup_new(void);
void sf_hangup_free(struct sf_hangup *h);
/* The epoll descriptor to poll for readability. */
int sf_hangup_fd(const struct sf_hangup *h);

/* Watches w's client while w is parked on place: called when it parks, with the place's
 * lock held. A no-op unless w has a watcher (w->hangup) and a socket. */
void sf_hangup_watch(struct sf_waiter *w, void *place, const struct sf_place_ops *ops);
/* Stops watching w (the place's lock held), retiring its id; a no-op when not watched. */
void sf_hangup_unwatch(struct sf_waiter *w);

/* Handles ready events: for each client that hung up and is still parked, takes it off its
 * place (drop_gone), and wakes it. Returns the number dropped.
 * Runs on: the fetcher thread, with no locks held. */
size_t sf_hangup_dispatch(struct sf_hangup *h);

#endif
