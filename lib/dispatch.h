/* dispatch: the steps of a request's life that every kind of request may take (the list
 * and their order are reqsteps.h's): RECV, ADMIT, LOOKUP, HIT, PASS, WAIT_HEAD, DELIVER,
 * SYNTH and SENT. Where each request goes (the cache, a flight, a fetch of its own) and
 * how it is answered. */
#ifndef SF_DISPATCH_H
#define SF_DISPATCH_H

#include "reqsteps.h"

#endif
