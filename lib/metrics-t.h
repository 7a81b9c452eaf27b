/* metrics-t: the types of the counters (metrics.h) that modules counting apart from
 * metrics.c name (routestats.h): a counter, and how a request was answered with the name
 * the documents give it. metrics.c includes what counts elsewhere for its documents, so
 * those modules include this, not metrics.h (HAProxy's x-t.h habit). */
#ifndef SF_METRICS_T_H
#define SF_METRICS_T_H

#include "base.h"

typedef atomic_uint_fast64_t sf_counter;

/* How a request was answered, for the histograms by outcome: its X-Cache, or NONE (sfproxy
 * answered it itself, or the client left first). */
enum sf_outcome {
    SF_OUT_HIT,
    SF_OUT_MISS,
    SF_OUT_COLLAPSED,
    SF_OUT_PASS,
    SF_OUT_REVALIDATED,
    SF_OUT_STALE,
    SF_OUT_NONE,
    SF_OUT_COUNT
};

/* An outcome's name, as the documents label it: its X-Cache ("HIT", ...), or "none". */
static inline const char *sf_metrics_outcome_name(enum sf_outcome outcome)
{
    static const char *const names[SF_OUT_COUNT] = {"HIT",         "MISS",  "COLLAPSED", "PASS",
                                                    "REVALIDATED", "STALE", "none"};
    SF_ASSERT(outcome < SF_OUT_COUNT);
    return names[outcome];
}

#endif
