/* HTTP dates (RFC 9110 §5.6.7): never a crash, and a date that parses formats to an
 * IMF-fixdate that parses to the same second. */
#include "fuzz.h"

#include "../../lib/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_string(data, size);
    int64_t t;
    if (sf_http_date_parse(s, &t)) {
        char buf[64];
        int64_t again;
        sf_http_date_format(t, buf, sizeof buf);
        FUZZ_CHECK(sf_http_date_parse(buf, &again) && again == t,
                   "%s -> %lld -> %s did not round-trip", s, (long long)t, buf);
    }
    free(s);
    return 0;
}
