/* Unit tests for lib/singleflight.c, driven like the fetcher drives it (a fake fetcher):
 * the state machine, parking and waking, segment reads, and the worth-finishing rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/singleflight.h"

#include <stdlib.h>
#include <string.h>

struct fake_client {
    struct sf_waiter w;
    int wakes;
};

static void fake_wake(struct sf_waiter *w)
{
    ((struct fake_client *)w)->wakes++;
}

static void client_init(struct fake_client *c)
{
    memset(c, 0, sizeof *c);
    c->w.wake = fake_wake;
    c->w.fd = -1;
}

static void publish(struct sf_obj *o, bool shareable, int64_t length)
{
    struct sf_hdrs h = {0};
    struct sf_verdict v = {.shareable = shareable, .storable = shareable, .fresh_s = 60};
    sf_hdrs_add(&h, "X-A", "1");
    sf_obj_publish(o, 200, &h, length, &v, 0);
    assert_int_equal(h.n, 0); /* taken over */
}

static void test_headers_wake_every_waiter_once(void **state)
{
    (void)state;
    struct sf_obj *o = sf_obj_new("k");
    struct fake_client c[3];
    sf_obj_lock(o);
    for (int i = 0; i < 3; i++) {
        client_init(&c[i]);
        sf_obj_park(o, &c[i].w);
    }
    publish(o, true, -1);
    assert_int_equal(o->state, SF_OBJ_STREAMING);
    for (int i = 0; i < 3; i++)
        assert_int_equal(c[i].wakes, 0); /* the fetcher wakes once per pass */
    sf_waiters_wake(sf_obj_take_waiters(o));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c[i].wakes, 1);
        assert_false(c[i].w.parked);
    }
    assert_null(sf_obj_finish(o, SF_FAIL_NONE)); /* nobody parked any more */
    for (int i = 0; i < 3; i++)
        assert_int_equal(c[i].wakes, 1);
    sf_obj_unlock(o);
    sf_obj_unref(o);
}

static void test_failure_before_headers_wakes(void **state)
{
    (void)state;
    struct sf_obj *o = sf_obj_new("k");
    struct fake_client c;
    client_init(&c);
    sf_obj_lock(o);
    sf_obj_park(o, &c.w);
    sf_waiters_wake(sf_obj_finish(o, SF_FAIL_CONNECT));
    assert_int_equal(o->state, SF_OBJ_FAILED);
    assert_int_equal(o->fail, SF_FAIL_CONNECT);
    assert_int_equal(c.wakes, 1);
    assert_false(o->storable);
    sf_obj_unlock(o);
    sf_obj_unref(o);
}

static void test_reads_across_segments(void **state)
{
    (void)state;
    struct sf_obj *o = sf_obj_new("k");
    char body[300000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)(i * 31 % 251);
    sf_obj_lock(o);
    publish(o, true, -1);
    /* Uneven pieces, as a network delivers them. */
    for (size_t off = 0; off < sizeof body;) {
        size_t n = off % 7 == 0 ? 1 : 16384 + off % 1000;
        if (n > sizeof body - off)
            n = sizeof body - off;
        sf_obj_append(o, body + off, n);
        off += n;
    }
    assert_int_equal(o->len, sizeof body);
    assert_true(o->nsegs > 1);
    char copy[sizeof body];
    size_t pos = 0, hint = 0;
    const char *data;
    size_t n;
    while ((n = sf_obj_peek(o, pos, &hint, &data)) > 0) {
        memcpy(copy + pos, data, n);
        pos += n;
    }
    assert_int_equal(pos, sizeof body);
    assert_memory_equal(copy, body, sizeof body);
    /* A reader that jumps back still finds its bytes. */
    hint = o->nsegs - 1;
    n = sf_obj_peek(o, 10, &hint, &data);
    assert_true(n > 0);
    assert_memory_equal(data, body + 10, 1);
    sf_obj_finish(o, SF_FAIL_NONE);
    sf_obj_unlock(o);
    sf_obj_unref(o);
}

static void test_known_length_one_segment(void **state)
{
    (void)state;
    struct sf_obj *o = sf_obj_new("k");
    char body[100000] = {0};
    sf_obj_lock(o);
    publish(o, true, sizeof body);
    sf_obj_append(o, body, 5000);
    sf_obj_append(o, body, sizeof body - 5000);
    assert_int_equal(o->nsegs, 1);
    assert_ptr_equal(o->segs, &o->seg_one); /* no segment table of its own */
    /* Bytes past its Content-Length go on in a second segment: the table moves to the
     * heap, and the first segment with it. */
    struct sf_seg *first = o->seg_one;
    char more[10] = "0123456789";
    sf_obj_append(o, more, sizeof more);
    assert_int_equal(o->nsegs, 2);
    assert_ptr_not_equal(o->segs, &o->seg_one);
    assert_ptr_equal(o->segs[0], first);
    for (int i = 0; i < 10; i++) /* and grows there: 4, then 8 (segments of 256 KiB) */
        sf_obj_append(o, body, sizeof body);
    assert_int_equal(o->nsegs, 6);
    assert_int_equal(o->segs_cap, 8);
    size_t hint = 0;
    const char *data;
    assert_true(sf_obj_peek(o, sizeof body, &hint, &data) >= sizeof more);
    assert_memory_equal(data, more, sizeof more);
    sf_obj_finish(o, SF_FAIL_NONE);
    sf_obj_unlock(o);
    sf_obj_unref(o);
}

/* (A client that hangs up is taken off by the hangup watcher: test_hangup.c.) */
static void test_unpark(void **state)
{
    (void)state;
    struct sf_obj *o = sf_obj_new("k");
    struct fake_client a, b;
    client_init(&a);
    client_init(&b);
    sf_obj_lock(o);
    sf_obj_park(o, &a.w);
    sf_obj_park(o, &b.w);
    sf_obj_unpark(o, &a.w);
    sf_obj_unpark(o, &a.w); /* not parked: a no-op */
    assert_int_equal(a.wakes, 0);
    publish(o, true, 0);
    struct sf_waiter *wake = sf_obj_finish(o, SF_FAIL_NONE);
    sf_obj_unlock(o);
    sf_waiters_wake(wake);
    assert_int_equal(a.wakes, 0); /* unparked: not woken */
    assert_int_equal(b.wakes, 1);
    sf_obj_unref(o);
}

static void test_worth_finishing(void **state)
{
    (void)state;
    struct sf_obj *shared = sf_obj_new("k"), *priv = sf_obj_new(NULL);
    sf_obj_lock(shared);
    assert_true(sf_obj_worth_finishing(shared)); /* headers unknown: might be cacheable */
    publish(shared, true, -1);
    assert_true(sf_obj_worth_finishing(shared));
    shared->storable = false; /* e.g. grew past the object limit */
    assert_false(sf_obj_worth_finishing(shared));
    sf_obj_finish(shared, SF_FAIL_NONE);
    sf_obj_unlock(shared);
    sf_obj_lock(priv);
    assert_false(sf_obj_worth_finishing(priv));
    publish(priv, true, -1);
    assert_false(priv->storable); /* private objects are never stored */
    sf_obj_finish(priv, SF_FAIL_CANCELLED);
    sf_obj_unlock(priv);
    sf_obj_unref(shared);
    sf_obj_unref(priv);
}

/* The fetcher's decision to give a fetch up and a new reader's attach cannot cross: once
 * it is decided, under the object lock, nobody attaches to a fetch about to fail; while a
 * reader is attached, or the object is stored whole, nothing is given up. */
static void test_a_dropped_fetch_takes_no_reader(void **state)
{
    (void)state;
    struct sf_obj *o = sf_obj_new("k");
    struct fake_client a, b;
    client_init(&a);
    client_init(&b);
    sf_obj_lock(o);
    publish(o, true, 1 << 30);
    o->storable = false; /* too large to store: its clients alone want it */
    assert_true(sf_obj_attach(o, &a.w));
    assert_false(sf_obj_drop_if_unwanted(o)); /* a reader is attached */
    sf_obj_detach(o, &a.w);
    assert_true(sf_obj_drop_if_unwanted(o));
    assert_false(sf_obj_attach(o, &b.w)); /* looked up just before: fetches on its own */
    sf_obj_finish(o, SF_FAIL_CANCELLED);
    sf_obj_unlock(o);
    sf_obj_unref(o);

    struct sf_obj *done = sf_obj_new("k2");
    sf_obj_lock(done);
    publish(done, true, 0);
    sf_obj_finish(done, SF_FAIL_NONE);
    assert_false(sf_obj_drop_if_unwanted(done)); /* a late cancel of a stored response */
    assert_true(sf_obj_attach(done, &b.w));
    sf_obj_detach(done, &b.w);
    sf_obj_unlock(done);
    sf_obj_unref(done);
}

static void test_not_shareable_is_pass(void **state)
{
    (void)state;
    struct sf_obj *o = sf_obj_new("k");
    sf_obj_lock(o);
    publish(o, false, 0);
    assert_true(o->pass);
    assert_false(o->storable);
    assert_false(sf_obj_worth_finishing(o));
    sf_obj_finish(o, SF_FAIL_NONE);
    sf_obj_unlock(o);
    sf_obj_unref(o);
}

static void test_trim_and_pause_for_one_slow_reader(void **state)
{
    (void)state;
    static char piece[64 << 10];
    struct sf_obj *o = sf_obj_new(NULL); /* private: unjoinable, never stored */
    struct fake_client c, late;
    client_init(&c);
    client_init(&late);
    sf_obj_lock(o);
    assert_true(sf_obj_attach(o, &c.w));
    publish(o, true, -1);
    assert_false(o->storable);
    /* The reader has read nothing: nothing may be freed, and past the lag limit the
     * fetch must pause. */
    while (o->len <= SF_OBJ_LAG_MAX)
        sf_obj_append(o, piece, sizeof piece);
    assert_int_equal(o->seg_first, 0);
    assert_true(sf_obj_should_pause(o));
    o->flight->upstream_paused = true;
    /* Reading halfway is not yet enough to continue; reading most of it is. */
    assert_false(sf_obj_reader_at(o, &c.w, o->len / 4));
    assert_true(sf_obj_reader_at(o, &c.w, o->len - 1000));
    assert_false(o->flight->upstream_paused);
    size_t mem_before = o->mem_bytes;
    sf_obj_append(o, piece, sizeof piece);
    assert_true(o->seg_first > 0);
    assert_true(o->mem_bytes < mem_before);
    /* Bytes from the reader's position on are still readable. */
    const char *data;
    size_t hint = 0;
    assert_true(sf_obj_peek(o, o->len - 1000, &hint, &data) > 0);
    /* A newcomer cannot start from byte 0 any more. */
    assert_false(sf_obj_attach(o, &late.w));
    sf_obj_detach(o, &c.w);
    assert_int_equal(sf_obj_clients(o), 0);
    sf_waiters_wake(sf_obj_finish(o, SF_FAIL_NONE));
    sf_obj_unlock(o);
    sf_obj_unref(o);
}

static void test_joinable_object_keeps_its_start(void **state)
{
    (void)state;
    static char piece[64 << 10];
    struct sf_obj *o = sf_obj_new("k");
    struct fake_client a, b;
    client_init(&a);
    client_init(&b);
    sf_obj_lock(o);
    assert_true(sf_obj_attach(o, &a.w));
    publish(o, true, -1);
    o->storable = false; /* not stored, but still listed: late joiners need byte 0 */
    sf_obj_reader_at(o, &a.w, 0);
    for (int i = 0; i < 40; i++)
        sf_obj_append(o, piece, sizeof piece);
    assert_int_equal(o->seg_first, 0);
    assert_false(sf_obj_should_pause(o)); /* joinable: nobody waits for one reader */
    assert_true(sf_obj_attach(o, &b.w));
    sf_obj_detach(o, &a.w);
    sf_obj_detach(o, &b.w);
    sf_waiters_wake(sf_obj_finish(o, SF_FAIL_NONE));
    sf_obj_unlock(o);
    sf_obj_unref(o);
}

/* Several readers of a body that is not stored: the fast one runs ahead of the slow one by
 * up to SF_OBJ_SHARED_LAG_MAX, then the fetch waits; the slow one leaving lets it go on. */
static void test_pause_for_a_slow_reader_among_several(void **state)
{
    (void)state;
    static char piece[256 << 10];
    struct sf_obj *o = sf_obj_new("k");
    struct fake_client fast, slow;
    client_init(&fast);
    client_init(&slow);
    sf_obj_lock(o);
    assert_true(sf_obj_attach(o, &fast.w));
    assert_true(sf_obj_attach(o, &slow.w));
    publish(o, true, -1);
    o->storable = false;
    sf_obj_close_joins(o); /* past the object limit: nobody else may join */
    while (o->len <= SF_OBJ_SHARED_LAG_MAX) {
        assert_false(sf_obj_should_pause(o));
        sf_obj_append(o, piece, sizeof piece);
        sf_obj_reader_at(o, &fast.w, o->len);
    }
    assert_true(sf_obj_should_pause(o));
    o->flight->upstream_paused = true;
    assert_false(sf_obj_reader_at(o, &fast.w, o->len)); /* the fast one cannot help */
    assert_true(sf_obj_detach(o, &slow.w));             /* the slow one leaving can */
    assert_false(o->flight->upstream_paused);
    assert_false(sf_obj_should_pause(o));
    sf_obj_detach(o, &fast.w);
    sf_waiters_wake(sf_obj_finish(o, SF_FAIL_NONE));
    sf_obj_unlock(o);
    sf_obj_unref(o);
}

static bool listed(struct sf_obj *o)
{
    size_t n;
    struct sf_obj **objs = sf_obj_with_readers(&n);
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        found |= objs[i] == o;
        sf_obj_unref(objs[i]);
    }
    free(objs);
    return found;
}

static void test_readers_are_listed_and_shed(void **state)
{
    (void)state;
    static char piece[4096];
    struct sf_obj *o = sf_obj_new("k");
    struct fake_client a, b;
    client_init(&a);
    client_init(&b);
    sf_obj_lock(o);
    assert_false(listed(o));
    assert_true(sf_obj_attach(o, &a.w));
    assert_true(sf_obj_attach(o, &b.w));
    assert_true(listed(o)); /* once, with its first reader */
    publish(o, true, -1);
    sf_obj_append(o, piece, sizeof piece);
    assert_true(sf_obj_park(o, &b.w)); /* caught up: parked; a is not (its socket is full) */
    size_t count;
    struct sf_waiter *wake = sf_obj_shed_readers(o, &count);
    assert_int_equal(count, 2);
    assert_true(a.w.shed && b.w.shed);
    assert_ptr_equal(wake, &b.w); /* the parked one, off the list, to be woken */
    assert_null(b.w.next);
    assert_false(b.w.parked);
    assert_null(sf_obj_shed_readers(o, &count)); /* shed once */
    assert_int_equal(count, 0);
    sf_obj_unlock(o);
    sf_waiters_wake(wake);
    assert_int_equal(b.wakes, 1);
    sf_obj_lock(o);
    sf_obj_detach(o, &a.w);
    assert_true(listed(o));
    sf_obj_detach(o, &b.w);
    assert_true(listed(o)); /* its body still arrives, for nobody: it still takes memory */
    sf_waiters_wake(sf_obj_finish(o, SF_FAIL_NONE));
    assert_false(listed(o)); /* done, and nobody reads it */
    sf_obj_unlock(o);
    sf_obj_unref(o);
}

/* A stored body of unknown length (chunked) is not kept in its 4 KiB first segment: as it
 * completes it is copied into one of its exact size. With no reader attached the old one
 * goes at once; with one attached (it may be copying from the old one outside the lock)
 * the old one stays, readable, until it detaches (ASan sees a read after a free). A body
 * that fills most of its segment, or one not stored, is left as it is. */
static void test_unknown_length_body_fits_as_it_completes(void **state)
{
    (void)state;
    char body[1024];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)i;
    struct sf_obj *o = sf_obj_new("k");
    sf_obj_lock(o);
    publish(o, true, -1);
    sf_obj_append(o, body, sizeof body);
    assert_int_equal(o->segs[0]->cap, 4096);
    assert_int_equal(o->mem_bytes, sizeof(struct sf_seg) + 4096);
    sf_obj_finish(o, SF_FAIL_NONE);
    assert_int_equal(o->segs[0]->cap, sizeof body);
    assert_int_equal(o->mem_bytes, sizeof(struct sf_seg) + sizeof body);
    assert_null(o->flight); /* nobody attached, no fetch: its flight went, old segment too */
    size_t hint = 0;
    const char *data;
    assert_int_equal(sf_obj_peek(o, 0, &hint, &data), sizeof body);
    assert_memory_equal(data, body, sizeof body);
    sf_obj_unlock(o);
    sf_obj_unref(o);

    struct fake_client a;
    client_init(&a);
    o = sf_obj_new("k");
    sf_obj_lock(o);
    assert_true(sf_obj_attach(o, &a.w));
    publish(o, true, -1);
    sf_obj_append(o, body, sizeof body);
    hint = 0;
    assert_int_equal(sf_obj_peek(o, 0, &hint, &data), sizeof body); /* a reader's pointer */
    sf_obj_finish(o, SF_FAIL_NONE);
    assert_int_equal(o->segs[0]->cap, sizeof body);
    assert_non_null(o->flight->seg_retired);
    sf_obj_unlock(o);
    assert_memory_equal(data, body, sizeof body); /* copied outside the lock: still there */
    sf_obj_lock(o);
    sf_obj_detach(o, &a.w);
    assert_null(o->flight); /* its last reader left: the flight and its retired segment */
    sf_obj_unlock(o);
    sf_obj_unref(o);

    o = sf_obj_new("k"); /* most of its segment used: kept */
    sf_obj_lock(o);
    publish(o, true, -1);
    for (int i = 0; i < 4; i++)
        sf_obj_append(o, body, i < 3 ? sizeof body : sizeof body - 100);
    sf_obj_finish(o, SF_FAIL_NONE);
    assert_int_equal(o->segs[0]->cap, 4096);
    sf_obj_unlock(o);
    sf_obj_unref(o);

    o = sf_obj_new("k"); /* not stored: kept */
    sf_obj_lock(o);
    publish(o, false, -1);
    sf_obj_append(o, body, sizeof body);
    sf_obj_finish(o, SF_FAIL_NONE);
    assert_int_equal(o->segs[0]->cap, 4096);
    sf_obj_unlock(o);
    sf_obj_unref(o);
}

/* What a stored response costs starts with struct sf_obj (docs/performance.md, "Memory per
 * stored response"): its waiter lists are list heads, not whole struct sf_waiter
 * sentinels (those were 224 bytes), its first segment slot is inline, and its fields leave
 * no padding. A field added to it shows here, to be weighed against that budget. */
static void test_object_fits_its_memory_budget(void **state)
{
    (void)state;
    assert_true(sizeof(struct sf_obj) <= 472); /* 744 before issue 23 part 2; 480 held */
}

/* A stored response keeps no flight (struct sf_flight): it goes once the object is final
 * and its fetch and every client are done, in whichever order they end, and comes back
 * for a reader that attaches later, on the with-readers list while that reader is. */
static size_t times_listed(const struct sf_obj *o)
{
    size_t n, found = 0;
    struct sf_obj **objs = sf_obj_with_readers(&n);
    for (size_t i = 0; i < n; i++) {
        found += objs[i] == o;
        sf_obj_unref(objs[i]);
    }
    free(objs);
    return found;
}

static void test_flight_goes_with_its_last_user(void **state)
{
    (void)state;
    int fetch;
    struct fake_client a, b;
    client_init(&a);
    client_init(&b);
    struct sf_obj *o = sf_obj_new("k");
    sf_obj_set_fetch(o, &fetch);
    sf_obj_lock(o);
    assert_true(sf_obj_attach(o, &a.w));
    sf_obj_set_leader(o, &a);
    publish(o, true, 3);
    o->flight->upstream_status = 200;
    sf_obj_append(o, "abc", 3);
    sf_obj_finish(o, SF_FAIL_NONE);
    assert_non_null(o->flight); /* its fetch and its client are not done */
    sf_obj_set_leader(o, NULL);
    sf_obj_detach(o, &a.w);
    assert_non_null(o->flight); /* its fetch is not */
    sf_obj_unlock(o);
    assert_ptr_equal(sf_obj_fetch(o), &fetch);
    sf_obj_set_fetch(o, NULL);
    sf_obj_lock(o);
    assert_null(o->flight);
    struct sf_upstream_log up;
    sf_obj_upstream_log(o, &up); /* gone with it */
    assert_int_equal(up.status, 0);
    assert_int_equal(sf_obj_clients(o), 0);
    assert_false(sf_obj_led_by(o, &a));
    assert_true(sf_obj_attach(o, &b.w)); /* read again: a flight of its own */
    assert_non_null(o->flight);
    assert_int_equal(sf_obj_clients(o), 1);
    assert_int_equal(o->clients_ever, 2);
    sf_obj_unlock(o);
    assert_int_equal(times_listed(o), 1);
    sf_obj_lock(o);
    sf_obj_detach(o, &b.w);
    assert_null(o->flight);
    sf_obj_unlock(o);
    assert_int_equal(times_listed(o), 0);
    sf_obj_unref(o);

    o = sf_obj_new("k"); /* its fetch ends first, then its client */
    sf_obj_set_fetch(o, &fetch);
    sf_obj_lock(o);
    assert_true(sf_obj_attach(o, &a.w));
    publish(o, true, 0);
    sf_obj_finish(o, SF_FAIL_NONE);
    sf_obj_unlock(o);
    sf_obj_set_fetch(o, NULL);
    sf_obj_lock(o);
    assert_non_null(o->flight);
    sf_obj_detach(o, &a.w);
    assert_null(o->flight);
    sf_obj_unlock(o);
    sf_obj_unref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_wake_every_waiter_once),
        cmocka_unit_test(test_failure_before_headers_wakes),
        cmocka_unit_test(test_reads_across_segments),
        cmocka_unit_test(test_known_length_one_segment),
        cmocka_unit_test(test_unpark),
        cmocka_unit_test(test_worth_finishing),
        cmocka_unit_test(test_a_dropped_fetch_takes_no_reader),
        cmocka_unit_test(test_not_shareable_is_pass),
        cmocka_unit_test(test_trim_and_pause_for_one_slow_reader),
        cmocka_unit_test(test_joinable_object_keeps_its_start),
        cmocka_unit_test(test_pause_for_a_slow_reader_among_several),
        cmocka_unit_test(test_readers_are_listed_and_shed),
        cmocka_unit_test(test_unknown_length_body_fits_as_it_completes),
        cmocka_unit_test(test_object_fits_its_memory_budget),
        cmocka_unit_test(test_flight_goes_with_its_last_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
