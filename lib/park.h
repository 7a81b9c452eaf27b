/* park: the parking gate, and the count of parked clients that an orderly stop waits on.
 * A client parks (its connection suspended) on an object or on an upload's pipe; whoever
 * takes it off resumes it and says so here. Once the gate is closed nothing new parks,
 * so when the count reaches 0 it stays 0: no connection is suspended any more, and
 * libmicrohttpd may be stopped (it aborts the process otherwise). Any thread. */
#ifndef SF_PARK_H
#define SF_PARK_H

#include "base.h"

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
