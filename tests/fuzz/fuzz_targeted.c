/* A targeted cache-control field value (RFC 9213), read as a Structured Field Dictionary.
 * Never a crash; what it gives is a Cache-Control list no longer than twice the value,
 * which the Cache-Control parser reads with every delta in range. */
#include "fuzz.h"

#include "../../lib/http.h"
#include "../../lib/targeted.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_string(data, size);
    char *cc = sf_targeted_cache_control(s);
    if (cc != NULL) {
        FUZZ_CHECK(strlen(cc) <= 2 * strlen(s) + 16, "grew from %zu to %zu", strlen(s), strlen(cc));
        struct sf_cc parsed;
        sf_http_cc_parse(cc, &parsed);
        FUZZ_CHECK(parsed.max_age >= -1 && parsed.s_maxage >= -1, "a negative age");
    }
    free(cc);
    free(s);
    return 0;
}
