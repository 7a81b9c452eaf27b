/* cachekey: see cachekey.h. The key's parts, in order: the URL (its query as the rule
 * keys it), the Host when keyed, the Authorization lines, the Cookie (its lines, or the
 * narrowed value), then one "+name:value" line per header field the rule adds. A newline
 * never occurs in a URL or a field value (the request scanner refuses them), and '+' never
 * starts a credential or Host line, so no two different requests' parts can run together
 * into the same key. Pure. */
#include "cachekey.h"

#include "policy.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

bool sf_cachekey_glob(const char *pattern, const char *name, size_t len)
{
    size_t plen = strlen(pattern);
    if (plen > 0 && pattern[plen - 1] == '*')
        return len >= plen - 1 && memcmp(pattern, name, plen - 1) == 0;
    return plen == len && memcmp(pattern, name, len) == 0;
}

static bool listed(char *const *patterns, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (sf_cachekey_glob(patterns[i], name, len))
            return true;
    return false;
}

struct param {
    const char *p;
    size_t len, name_len;
};

/* Stable: equal names keep the order they were sent in ("a=2&a=1" is not "a=1&a=2"). */
static void sort_params(struct param *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct param x = v[i];
        size_t j = i;
        while (j > 0) {
            size_t m = v[j - 1].name_len < x.name_len ? v[j - 1].name_len : x.name_len;
            int c = memcmp(v[j - 1].p, x.p, m);
            if (c < 0 || (c == 0 && v[j - 1].name_len <= x.name_len))
                break;
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

char *sf_cachekey_query(const char *url, const struct sf_key_rule *rule)
{
    const char *q = strchr(url, '?');
    if (rule == NULL || q == NULL || (rule->query == SF_KEY_QUERY_ALL && !rule->sort_query))
        return sf_xstrdup(url);
    size_t base = (size_t)(q - url);
    if (rule->query == SF_KEY_QUERY_NONE)
        return sf_xstrndup(url, base);
    size_t cap = 1;
    for (const char *c = q + 1; *c; c++)
        cap += *c == '&';
    struct param *v = sf_xcalloc(cap, sizeof *v);
    size_t n = 0;
    for (const char *p = q + 1;;) {
        size_t len = strcspn(p, "&");
        size_t name_len = strcspn(p, "=&");
        bool keep = len > 0;
        if (keep && rule->query == SF_KEY_QUERY_KEEP)
            keep = listed(rule->params, rule->nparams, p, name_len);
        else if (keep && rule->query == SF_KEY_QUERY_DROP)
            keep = !listed(rule->params, rule->nparams, p, name_len);
        if (keep)
            v[n++] = (struct param){p, len, name_len};
        p += len;
        if (*p == '\0')
            break;
        p++;
    }
    if (rule->sort_query)
        sort_params(v, n);
    char *out = sf_xmalloc(strlen(url) + 2);
    memcpy(out, url, base);
    char *w = out + base;
    for (size_t i = 0; i < n; i++) {
        *w++ = i == 0 ? '?' : '&';
        memcpy(w, v[i].p, v[i].len);
        w += v[i].len;
    }
    *w = '\0';
    free(v);
    return out;
}

char *sf_cachekey_cookies(const struct sf_hdrs *hdrs, const struct sf_key_rule *rule)
{
    /* Each pair kept is written with "; " before it, where it may have come after a bare
     * ';' (or, first on its line, after nothing): at most twice what was sent. */
    size_t cap = 1;
    for (size_t i = 0; i < hdrs->n; i++)
        if (sf_streq_ci(hdrs->v[i].name, "Cookie"))
            cap += 2 * strlen(hdrs->v[i].value) + 2;
    char *out = sf_xmalloc(cap);
    char *w = out;
    for (size_t i = 0; i < hdrs->n; i++) {
        if (!sf_streq_ci(hdrs->v[i].name, "Cookie"))
            continue;
        /* RFC 6265 §4.2.1: cookie-pairs separated by "; " (a lone ';' tolerated). */
        for (const char *p = hdrs->v[i].value; *p != '\0';) {
            while (*p == ' ' || *p == '\t' || *p == ';')
                p++;
            size_t len = strcspn(p, ";");
            while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
                len--;
            size_t name_len = strcspn(p, "=;");
            while (name_len > 0 && (p[name_len - 1] == ' ' || p[name_len - 1] == '\t'))
                name_len--;
            if (len > 0 && listed(rule->cookies, rule->ncookies, p, name_len) &&
                memchr(p, '=', len) != NULL) {
                if (w != out) {
                    *w++ = ';';
                    *w++ = ' ';
                }
                memcpy(w, p, len);
                w += len;
            }
            p += strcspn(p, ";");
        }
    }
    *w = '\0';
    if (w == out) {
        free(out);
        return NULL;
    }
    return out;
}

/* The lines after the URL in the order the key has always had them, the Cookie lines
 * replaced by the narrowed value when the rule narrows. */
static void key_lines(const struct sf_key_request *r, const struct sf_key_rule *rule,
                      struct sf_hdrs *lines)
{
    if (r->host != NULL && (r->preserve_host || (rule != NULL && rule->host)))
        sf_hdrs_add(lines, "Host", r->host);
    bool narrow = rule != NULL && rule->narrow_cookies;
    for (size_t i = 0; r->hdrs != NULL && i < r->hdrs->n; i++) {
        const char *name = r->hdrs->v[i].name;
        if (sf_policy_is_credential(name) && !(narrow && sf_streq_ci(name, "Cookie")))
            sf_hdrs_add(lines, name, r->hdrs->v[i].value);
    }
    if (narrow && r->hdrs != NULL) {
        char *cookie = sf_cachekey_cookies(r->hdrs, rule);
        if (cookie != NULL)
            sf_hdrs_add(lines, "Cookie", cookie);
        free(cookie);
    }
}

char *sf_cachekey_build(const struct sf_key_request *r, const struct sf_key_rule *rule)
{
    struct sf_hdrs lines = {0};
    key_lines(r, rule, &lines);
    char *url = sf_cachekey_query(r->url, rule);
    char *key = sf_policy_key(url, &lines);
    free(url);
    sf_hdrs_clear(&lines);
    if (rule == NULL || rule->nheaders == 0 || r->hdrs == NULL)
        return key;
    size_t len = strlen(key) + 1;
    char **values = sf_xcalloc(rule->nheaders, sizeof *values);
    for (size_t i = 0; i < rule->nheaders; i++) {
        values[i] = sf_hdrs_join(r->hdrs, rule->headers[i]);
        if (values[i] != NULL)
            len += strlen(rule->headers[i]) + strlen(values[i]) + 3;
    }
    key = sf_xrealloc(key, len);
    char *w = key + strlen(key);
    for (size_t i = 0; i < rule->nheaders; i++) {
        if (values[i] == NULL)
            continue; /* absent: no line, which an empty value (a line) is not */
        *w++ = '\n';
        *w++ = '+';
        for (const char *c = rule->headers[i]; *c; c++)
            *w++ = (char)tolower((unsigned char)*c);
        *w++ = ':';
        w = stpcpy(w, values[i]);
        free(values[i]);
    }
    *w = '\0';
    free(values);
    return key;
}

static void free_list(char ***v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*v)[i]);
    free(*v);
    *v = NULL;
    *n = 0;
}

void sf_key_rule_clear(struct sf_key_rule *rule)
{
    free_list(&rule->params, &rule->nparams);
    free_list(&rule->headers, &rule->nheaders);
    free_list(&rule->cookies, &rule->ncookies);
    memset(rule, 0, sizeof *rule);
}
