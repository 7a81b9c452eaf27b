/* Range (RFC 9110 §14.1.2): never a crash, and one satisfiable range lies inside the body.
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
    uint64_t first = 0, last = 0;
    if (sf_http_range_parse(s, len, &first, &last) == SF_RANGE_ONE)
        FUZZ_CHECK(first <= last && last < len, "range %llu-%llu of %llu",
                   (unsigned long long)first, (unsigned long long)last, (unsigned long long)len);
    free(s);
    return 0;
}
