/* hangup: notices parked clients that hang up. libmicrohttpd does not watch suspended
 * connections, so each parked waiter's socket sits in an epoll set for EPOLLRDHUP; the
 * set's descriptor is polled by the fetcher thread next to its curl transfers.
 *
 * A slot table with generations makes a late event harmless: the event carries the slot
 * id, and a waiter that was woken (and maybe freed) in the meantime has retired its id.
 * Lock order: object lock -> hangup lock. */
#ifndef SF_HANGUP_H
#define SF_HANGUP_H

#include "base.h"

struct sf_obj;
struct sf_waiter;

struct sf_hangup *sf_hangup_new(void);
void sf_hangup_free(struct sf_hangup *h);
/* The epoll descriptor to poll for readability. */
int sf_hangup_fd(const struct sf_hangup *h);

/* Watches fd for w parked on o; returns the slot id. Called with o's lock held. */
uint64_t sf_hangup_watch(struct sf_hangup *h, int fd, struct sf_obj *o, struct sf_waiter *w);
/* Stops watching; the id is retired. Called with the object's lock held. */
void sf_hangup_unwatch(struct sf_hangup *h, uint64_t id);

/* Handles ready events: for each client that hung up and is still parked, takes it off its
 * object, marks it gone and wakes it. Returns the number dropped.
 * Runs on: the fetcher thread, with no locks held. */
size_t sf_hangup_dispatch(struct sf_hangup *h);

#endif
