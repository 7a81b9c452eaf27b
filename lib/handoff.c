/* handoff: see handoff.h. Tickets: a locker counts itself in arrived (atomic, so that it
 * need not hold anything) before it waits, and in entered once it has the mutex. The
 * holder, at a yield, takes arrived as its target and waits until entered reaches it:
 * exactly the lockers that were on their way then. The flag, the target and the broadcast
 * are under the mutex, so the holder cannot miss the wake-up of the locker that reaches the
 * target: it checks entered with the mutex held, and that locker holds it when it
 * broadcasts. */
#include "handoff.h"

void sf_handoff_init(struct sf_handoff *h)
{
    atomic_store(&h->arrived, 0);
    h->entered = 0;
    h->target = 0;
    h->yielding = false;
    sf_cond_init(&h->cv);
}

void sf_handoff_destroy(struct sf_handoff *h)
{
    pthread_cond_destroy(&h->cv);
}

void sf_handoff_lock(struct sf_handoff *h, struct sf_mutex *mx)
{
    atomic_fetch_add(&h->arrived, 1);
    sf_mutex_lock(mx);
    h->entered++;
    if (h->yielding && h->entered >= h->target)
        SF_PTOK(pthread_cond_broadcast(&h->cv));
}

bool sf_handoff_yield(struct sf_handoff *h, struct sf_mutex *mx, uint64_t max_ms)
{
    sf_mutex_assert_held(mx);
    uint64_t target = atomic_load(&h->arrived);
    if (h->entered >= target)
        return false;
    uint64_t until = sf_now_ms() + max_ms;
    h->target = target;
    h->yielding = true;
    while (h->entered < target) {
        uint64_t now = sf_now_ms();
        if (now >= until)
            break;
        sf_cond_wait_ms(&h->cv, mx, until - now);
    }
    h->yielding = false;
    return true;
}
