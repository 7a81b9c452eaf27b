/* The field helpers sfproxy decides on: Cache-Control (and its qualified forms), token
 * lists, entity tags, and the checks of an origin's head. Never a crash; a head that is
 * accepted has a status in 100..599 and a length that fits. */
#include "fuzz.h"

#include "../../lib/http.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_string(data, size);
    struct sf_cc cc;
    sf_http_cc_parse(s, &cc);
    FUZZ_CHECK(cc.max_age >= -1 && cc.s_maxage >= -1 && cc.max_age <= 2147483648LL, "max-age %lld",
               (long long)cc.max_age);
    (void)sf_http_cc_names_field(s, "Set-Cookie");
    (void)sf_http_list_has(s, "chunked");
    (void)sf_http_etag_matches(s, "\"abc\"");
    (void)sf_http_etag_matches("W/\"x\", *", s);
    int status = 0;
    if (sf_http_check_status_line(s, strlen(s), &status) == NULL)
        FUZZ_CHECK(status >= 100 && status <= 599, "status %d", status);
    (void)sf_http_check_field_line((const char *)data, size);
    /* The input as field lines "name: value", one per line, then their framing. */
    struct sf_hdrs h = {0};
    for (char *line = strtok(s, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *colon = strchr(line, ':');
        if (colon != NULL) {
            *colon = '\0';
            sf_hdrs_add(&h, line, colon + 1);
        }
    }
    int64_t length;
    if (sf_http_check_framing(&h, &length) == NULL)
        FUZZ_CHECK(length >= -1, "length %lld", (long long)length);
    char *joined = sf_hdrs_join(&h, "Content-Length");
    free(joined);
    sf_hdrs_clear(&h);
    free(s);
    return 0;
}
