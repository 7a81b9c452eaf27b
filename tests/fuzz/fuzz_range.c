/* Range (RFC 9110 §14.1.2): never a crash, and satisfiable ranges lie inside the body;
 * Content-Range (§14.4) of the same text: what it accepts is a range inside its length.
 * The first 8 bytes are the body's length. */
#include "fuzz.h"

#include "../../lib/http.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t len;
    memcpy(&len, data, 8);
    len %= (uint64_t)1 << 50;
    char *s = fuzz_string(data + 8, size - 8);
    /* Several: each inside the body, none overlapping another, at most SF_RANGES_MAX. */
    struct sf_ranges r;
    enum sf_range kind = sf_http_ranges_parse(s, len, &r);
    FUZZ_CHECK((kind == SF_RANGE_ONE) == (r.n == 1) && (kind == SF_RANGE_MANY) == (r.n > 1) &&
                   r.n <= SF_RANGES_MAX,
               "%d with %zu ranges", (int)kind, r.n);
    for (size_t i = 0; i < r.n; i++) {
        FUZZ_CHECK(r.first[i] <= r.last[i] && r.last[i] < len, "range %zu outside", i);
        for (size_t k = 0; k < i; k++)
            FUZZ_CHECK(r.last[i] < r.first[k] || r.last[k] < r.first[i], "overlap");
    }
    uint64_t first, last, complete;
    if (sf_http_content_range_parse(s, &first, &last, &complete))
        FUZZ_CHECK(first <= last && last < complete, "Content-Range %llu-%llu/%llu",
                   (unsigned long long)first, (unsigned long long)last,
                   (unsigned long long)complete);
    free(s);
    return 0;
}
