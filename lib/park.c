/* park: see park.h. Two sequentially consistent atomics: sf_park_begin counts first, then
 * looks at the gate; sf_park_close sets the gate, then the stopper reads the count. One of
 * the two sees the other: a client is either counted before the stopper reads, or sees the
 * gate shut and does not park. */
#include "park.h"

static atomic_bool closed;
static atomic_int_fast64_t parked;

bool sf_park_begin(void)
{
    atomic_fetch_add(&parked, 1);
    if (!atomic_load(&closed))
        return true;
    atomic_fetch_sub(&parked, 1);
    return false;
}

void sf_park_end(void)
{
    SF_ASSERT(atomic_fetch_sub(&parked, 1) > 0);
}

void sf_park_close(void)
{
    atomic_store(&closed, true);
}

void sf_waiters_wake(struct sf_waiter *list)
{
    while (list != NULL) {
        struct sf_waiter *next = list->next; /* list may be freed once woken */
        list->next = NULL;
        list->wake(list);
        sf_park_end();
        list = next;
    }
}

int64_t sf_park_count(void)
{
    return (int64_t)atomic_load(&parked);
}
