/* The request scanner, fed any bytes: never a crash, and the same verdicts whether the
 * stream comes whole, a byte at a time, or split where the first byte says. */
#include "fuzz.h"

#include "../../lib/h1scan.h"

#include <string.h>

static void feed_split(struct sf_h1scan *s, const uint8_t *data, size_t size, size_t step)
{
    sf_h1scan_init(s);
    for (size_t i = 0; i < size; i += step)
        sf_h1scan_feed(s, (const char *)data + i, size - i < step ? size - i : step);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = data[0] % 16 + 1;
    data++, size--;
    struct sf_h1scan whole, bytes, split;
    feed_split(&whole, data, size, size ? size : 1);
    feed_split(&bytes, data, size, 1);
    feed_split(&split, data, size, step);
    const struct sf_h1scan *all[] = {&whole, &bytes, &split};
    for (int i = 1; i < 3; i++) {
        FUZZ_CHECK(all[i]->heads_ok == whole.heads_ok && all[i]->bad == whole.bad &&
                       all[i]->msg == whole.msg,
                   "feeding in pieces changed the verdict (heads %llu vs %llu)",
                   (unsigned long long)all[i]->heads_ok, (unsigned long long)whole.heads_ok);
        if (whole.bad)
            FUZZ_CHECK(all[i]->bad_msg == whole.bad_msg && all[i]->bad_status == whole.bad_status &&
                           all[i]->bad_in_body == whole.bad_in_body,
                       "the fault moved: %s vs %s", all[i]->bad_reason, whole.bad_reason);
    }
    /* A capped feed (TLS) scans a prefix, and says the same of it as a plain feed. */
    struct sf_h1scan capped, prefix;
    sf_h1scan_init(&capped);
    size_t kept = 0;
    size_t scanned = sf_h1scan_feed_capped(&capped, (const char *)data, size, &kept);
    FUZZ_CHECK(kept <= size && scanned <= kept, "kept %zu, scanned %zu of %zu", kept, scanned,
               size);
    feed_split(&prefix, data, kept, kept ? kept : 1);
    FUZZ_CHECK(prefix.heads_ok == capped.heads_ok && prefix.bad == capped.bad &&
                   prefix.msg == capped.msg,
               "a capped feed differs from a plain feed of what it kept");
    FUZZ_CHECK(kept == size || capped.bad || capped.msg > 0, "dropped inside the first message");
    for (uint64_t k = 0; k <= whole.msg + 1; k++) {
        const char *why = NULL;
        unsigned st = sf_h1scan_verdict(&whole, k, &why);
        FUZZ_CHECK(st == 0 || (st >= 400 && st < 600 && why != NULL && strlen(why) > 0),
                   "verdict %u", st);
        FUZZ_CHECK((st == 0) == (k < whole.heads_ok &&
                                 !(whole.bad && whole.bad_msg == k && !whole.bad_in_body)),
                   "request %llu accepted inconsistently", (unsigned long long)k);
    }
    return 0;
}
