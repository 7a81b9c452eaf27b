/* handoff: see handoff.h. The count is atomic so that a locker need not hold anything to
 * be counted; the flag and the broadcast are under the mutex, so the holder cannot miss
 * the last locker's wake-up: it checks the count with the mutex held, and the locker that
 * brings it to 0 holds the mutex when it broadcasts. */
#include "handoff.h"

void sf_handoff_init(struct sf_handoff *h)
{
    atomic_store(&h->waiting, 0);
    h->yielding = false;
    sf_cond_init(&h->cv);
}

void sf_handoff_destroy(struct sf_handoff *h)
{
    pthread_cond_destroy(&h->cv);
}

void sf_handoff_lock(struct sf_handoff *h, struct sf_mutex *mx)
{
    atomic_fetch_add(&h->waiting, 1);
    sf_mutex_lock(mx);
    if (atomic_fetch_sub(&h->waiting, 1) == 1 && h->yielding)
        SF_PTOK(pthread_cond_broadcast(&h->cv));
}

bool sf_handoff_yield(struct sf_handoff *h, struct sf_mutex *mx, uint64_t max_ms)
{
    sf_mutex_assert_held(mx);
    if (atomic_load(&h->waiting) == 0)
        return false;
    uint64_t until = sf_now_ms() + max_ms;
    h->yielding = true;
    while (atomic_load(&h->waiting) > 0) {
        uint64_t now = sf_now_ms();
        if (now >= until)
            break;
        sf_cond_wait_ms(&h->cv, mx, until - now);
    }
    h->yielding = false;
    return true;
}
