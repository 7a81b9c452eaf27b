/* Cache keys and variants: never a crash; two different lists of credential lines never
 * make the same key; a variant is the same for the same fields, and its Vary names are
 * lower case without repeats. The input is split at a 0xff byte into two requests, each
 * "name:value" lines split at "\n". */
#include "fuzz.h"

#include "../../lib/policy.h"

#include <string.h>

static void lines_of(char *s, struct sf_hdrs *h)
{
    for (char *line = strtok(s, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        if (strchr(line, '\r') == NULL && strchr(colon + 1, '\r') == NULL)
            sf_hdrs_add(h, line[0] & 1 ? "Cookie" : "Authorization", colon + 1);
    }
}

static bool same_lines(const struct sf_hdrs *a, const struct sf_hdrs *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].name, b->v[i].name) != 0 || strcmp(a->v[i].value, b->v[i].value) != 0)
            return false;
    return true;
}

static char *field_of(void *ctx, const char *name)
{
    const char *s = ctx;
    return strlen(name) % 3 == 0 ? NULL : strdup(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_string(data, size);
    char *cut = strchr(s, '\xff');
    char *second = cut != NULL ? (*cut = '\0', cut + 1) : s + strlen(s);
    struct sf_hdrs a = {0}, b = {0};
    char *sa = strdup(s), *sb = strdup(second);
    lines_of(sa, &a);
    lines_of(sb, &b);
    char *ka = sf_policy_key("http://o/x", &a), *kb = sf_policy_key("http://o/x", &b);
    FUZZ_CHECK(same_lines(&a, &b) == (strcmp(ka, kb) == 0), "keys %s and %s for %s lists", ka, kb,
               same_lines(&a, &b) ? "equal" : "different");
    char *names = sf_policy_vary_names(s);
    if (names != NULL && strcmp(names, "*") != 0) {
        for (const char *p = names; *p; p++)
            FUZZ_CHECK(*p < 'A' || *p > 'Z', "upper case in %s", names);
        struct sf_fields f = {field_of, second};
        char *v1 = sf_policy_variant(names, &f), *v2 = sf_policy_variant(names, &f);
        FUZZ_CHECK(strcmp(v1, v2) == 0, "variant not stable");
        free(v1);
        free(v2);
    }
    /* Accept-Language as language ranges: stable, and never longer than what was sent. */
    struct sf_fields lang = {field_of, second};
    char *l1 = sf_policy_variant("accept-language", &lang);
    char *l2 = sf_policy_variant("accept-language", &lang);
    FUZZ_CHECK(strcmp(l1, l2) == 0, "language variant not stable");
    FUZZ_CHECK(strlen(l1) <= strlen(SF_VARIANT_MARK "accept-language=") + strlen(second),
               "the language variant grew: %s", l1);
    free(l1);
    free(l2);
    (void)sf_policy_normalized_encoding(s);
    /* A Location resolved for invalidation (RFC 9111 §4.4) stays on the request's origin. */
    static const char base[] = "http://o:9/p/q?x";
    char *url = sf_policy_invalidation_url(base, s);
    if (url != NULL) {
        FUZZ_CHECK(strncmp(url, "http://o:9", 10) == 0 && strchr("/?", url[10]) != NULL,
                   "left the origin: %s", url);
        FUZZ_CHECK(strlen(url) <= sizeof base + strlen(s) + 1, "grew: %s", url);
    }
    free(url);
    free(names);
    free(ka);
    free(kb);
    free(sa);
    free(sb);
    sf_hdrs_clear(&a);
    sf_hdrs_clear(&b);
    free(s);
    return 0;
}
