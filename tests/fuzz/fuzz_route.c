/* Routes on any request: the path routes match on is normalised (starts with "/", no "."
 * or ".." segment, never longer than the target), normalising it again changes nothing
 * (when no escape is left),
 * and a target never crashes the matcher or the query rewriting of the key. The input is
 * a request target; its first byte picks a key rule. */
#include "fuzz.h"

#include "../../lib/cachekey.h"
#include "../../lib/route.h"

#include <string.h>

static struct sf_routes *routes(void)
{
    static struct sf_routes *rs;
    if (rs != NULL)
        return rs;
    rs = sf_routes_new();
    static const char *const prefixes[] = {"/a/", "/a/b/", "/account/", "/v1/", NULL};
    for (size_t i = 0; i < 5; i++) {
        struct sf_route_def *r = sf_routes_add(rs);
        char name[8];
        snprintf(name, sizeof name, "r%zu", i);
        r->name = strdup(name);
        r->match.path_prefix = prefixes[i] ? strdup(prefixes[i]) : NULL;
        r->strip_prefix = prefixes[i] != NULL;
        if (i == 1) {
            char err[64];
            size_t at;
            r->match.path_regex = strdup("^/a/b/(x|y+)*z$");
            FUZZ_CHECK(
                sf_route_compile(r->match.path_regex, &r->match._path_code, err, sizeof err, &at),
                "compile: %s", err);
        }
        if (i == 3)
            r->match.host = strdup("*.example.com");
    }
    sf_routes_index(rs);
    return rs;
}

static bool dot_segment(const char *p)
{
    for (const char *s = strstr(p, "/."); s != NULL; s = strstr(s + 1, "/."))
        if (s[2] == '\0' || s[2] == '/' || (s[2] == '.' && (s[3] == '\0' || s[3] == '/')))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *target = fuzz_string(data + 1, size - 1);
    char *path = sf_route_path(target);
    FUZZ_CHECK(path[0] == '/', "path %s of %s", path, target);
    FUZZ_CHECK(!dot_segment(path), "a dot segment left in %s (of %s)", path, target);
    FUZZ_CHECK(strlen(path) <= strlen(target) + 1, "%s grew into %s", target, path);
    char *again = sf_route_path(path);
    /* Escapes are decoded once, as an origin does: "%6%61" gives "%6a", which a second
     * pass would read again. Without escapes left, a second pass changes nothing. */
    FUZZ_CHECK(strchr(path, '%') != NULL || strcmp(again, path) == 0, "%s normalised again is %s",
               path, again);
    struct sf_route_req req = {"GET", "www.example.com", target, NULL};
    const struct sf_route_def *r = sf_routes_match(routes(), &req, NULL);
    if (r != NULL && target[0] == '/') {
        char *sent = sf_route_upstream_target(r, target);
        FUZZ_CHECK(sent[0] == '/', "upstream target %s", sent);
        free(sent);
    }
    char drop[] = "utm_*", *params[] = {drop};
    struct sf_key_rule rule = {.query = (enum sf_key_query)(data[0] % 4),
                               .params = params,
                               .nparams = 1,
                               .sort_query = data[0] & 4};
    char *url = sf_cachekey_query(target, &rule);
    FUZZ_CHECK(strlen(url) <= strlen(target), "%s grew into %s", target, url);
    free(url);
    /* The target as a Cookie line: what is kept is only named cookies, each written after
     * "; " (where the line may have had a bare ';'): never more than twice the line. */
    char ab[] = "ab", pre[] = "s*", *names[] = {ab, pre};
    struct sf_key_rule cookies = {.narrow_cookies = true, .cookies = names, .ncookies = 2};
    struct sf_hdrs h = {0};
    sf_hdrs_add(&h, "Cookie", target);
    char *kept = sf_cachekey_cookies(&h, &cookies);
    if (kept != NULL) {
        FUZZ_CHECK(strlen(kept) <= 2 * strlen(target), "%s grew into %s", target, kept);
        FUZZ_CHECK(kept[0] == 'a' || kept[0] == 's', "%s kept from %s", kept, target);
    }
    free(kept);
    sf_hdrs_clear(&h);
    free(again);
    free(path);
    free(target);
    return 0;
}
