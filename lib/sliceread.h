/* sliceread: a response read across the slices its representation is kept in (slice.h):
 * the steps SLICED and DELIVER_SLICED (reqsteps.h), and the reader's move from one slice
 * to the next while the response is sent. */
#ifndef SF_SLICEREAD_H
#define SF_SLICEREAD_H

#include "reqsteps.h"

#endif
