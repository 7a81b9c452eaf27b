/* An origin's response head, fed to the reader line by line as curl would hand it over
 * (each line with its LF). Never a crash; a final head has a status in 200..599, at most
 * SF_RESPHEAD_FIELDS_MAX fields, and no field that would split downstream. */
#include "fuzz.h"

#include "../../lib/resphead.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sf_resphead h = {0};
    const char *why;
    size_t at = 0;
    while (at < size) {
        const uint8_t *lf = memchr(data + at, '\n', size - at);
        size_t len = lf != NULL ? (size_t)(lf - (data + at)) + 1 : size - at;
        enum sf_resphead_step step = sf_resphead_line(&h, (const char *)data + at, len, &why);
        at += len;
        if (step == SF_RESPHEAD_BAD) {
            FUZZ_CHECK(why != NULL, "refused without a reason");
            break;
        }
        if (step == SF_RESPHEAD_FINAL) {
            FUZZ_CHECK(h.status >= 200 && h.status <= 599, "status %d", h.status);
            FUZZ_CHECK(h.hdrs.n <= SF_RESPHEAD_FIELDS_MAX, "%zu fields", h.hdrs.n);
            for (size_t i = 0; i < h.hdrs.n; i++)
                FUZZ_CHECK(strpbrk(h.hdrs.v[i].value, "\r\n") == NULL, "a CR or LF kept");
            break;
        }
    }
    sf_resphead_clear(&h); /* its fields and its text past the inline room */
    return 0;
}
