/* variant: see variant.h. */
#include "variant.h"

#include "siphash.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

char *sf_policy_vary_names(const char *vary)
{
    if (vary == NULL)
        return NULL;
    char *copy = sf_xstrdup(vary), *save = NULL;
    char **names = sf_xmalloc((strlen(vary) / 2 + 1) * sizeof *names);
    size_t n = 0, len = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        while (is_ows(*tok))
            tok++;
        size_t tlen = strlen(tok);
        while (tlen > 0 && is_ows(tok[tlen - 1]))
            tok[--tlen] = '\0';
        for (char *p = tok; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
        if (tlen > 0)
            names[n++] = tok;
    }
    qsort(names, n, sizeof *names, compare_names);
    char *out = NULL;
    for (size_t i = 0; i < n && out == NULL; i++)
        if (strcmp(names[i], "*") == 0)
            out = sf_xstrdup("*"); /* once: "Vary: *, *" leaked one copy per star (fuzzing) */
    for (size_t i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    if (out == NULL && n > 0) {
        char *p = out = sf_xmalloc(len);
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
                continue;
            if (p != out)
                *p++ = ',';
            p = stpcpy(p, names[i]);
        }
    }
    free(names);
    free(copy);
    return out;
}

/* Writes value into out (room for strlen(value) + 1) with its whitespace normalised:
 * none at either end or around commas, runs of it as one space; quoted strings as they
 * are. So "gzip,  br" and "gzip ,br" select the same variant. */
static void normalize_value(const char *value, char *out)
{
    bool quoted = false, space = false;
    const char *start = out;
    for (const char *p = value; *p != '\0'; p++) {
        if (!quoted && is_ows(*p)) {
            space = true;
            continue;
        }
        if (space && !quoted && *p != ',' && out != start && out[-1] != ',')
            *out++ = ' ';
        space = false;
        *out++ = *p;
        if (quoted && *p == '\\' && p[1] != '\0')
            *out++ = *++p;
        else if (*p == '"')
            quoted = !quoted;
    }
    *out = '\0';
}

/* A qvalue (RFC 9110 §12.4.2) at p, len bytes, in thousandths; -1 when malformed. */
static int parse_qvalue(const char *p, size_t len)
{
    if (len == 0 || (p[0] != '0' && p[0] != '1') || (len > 1 && p[1] != '.') || len > 5)
        return -1;
    int q = (p[0] - '0') * 1000;
    for (size_t i = 2, scale = 100; i < len; i++, scale /= 10) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        q += (p[i] - '0') * (int)scale;
    }
    return q <= 1000 ? q : -1;
}

struct language {
    char range[40]; /* lowercased language-range */
    int q;          /* thousandths */
};

static int compare_languages(const void *a, const void *b)
{
    const struct language *x = a, *y = b;
    if (x->q != y->q)
        return y->q - x->q; /* the most preferred first */
    return strcmp(x->range, y->range);
}

/* One element of Accept-Language ("de-CH;q=0.5", len bytes) into *l; false when it is
 * not a language-range with an optional weight (RFC 9110 §12.5.4). */
static bool parse_language(const char *p, size_t len, struct language *l)
{
    size_t n = 0;
    while (n < len && !is_ows(p[n]) && p[n] != ';')
        n++;
    if (n == 0 || n >= sizeof l->range)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = (char)tolower((unsigned char)p[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '*'))
            return false;
        l->range[i] = c;
    }
    l->range[n] = '\0';
    l->q = 1000;
    const char *w = p + n, *end = p + len;
    while (w < end && is_ows(*w))
        w++;
    if (w == end)
        return true;
    if (*w++ != ';')
        return false;
    while (w < end && is_ows(*w))
        w++;
    if (end - w < 2 || (w[0] != 'q' && w[0] != 'Q') || w[1] != '=')
        return false;
    size_t qlen = (size_t)(end - w - 2);
    while (qlen > 0 && is_ows(w[2 + qlen - 1]))
        qlen--;
    l->q = parse_qvalue(w + 2, qlen);
    return l->q >= 0;
}

/* Accept-Language as the language ranges it names (RFC 9110 §12.5.4), written into out
 * (room for strlen(value) + 1): lowercase, most preferred first (ties in alphabetical
 * order: list order does not matter), weights as short decimals, "q=1" left out; a range
 * given twice counts once, at its first weight. So "en, DE" and "de,en" select the same
 * variant, and "en;q=0.5, de" another. False, with out untouched, when the value does not
 * parse: it is then compared as text. */
static bool normalize_languages(const char *value, char *out)
{
    struct language langs[32];
    size_t n = 0;
    for (const char *p = value; *p != '\0';) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        if (len == 0)
            break;
        if (n == sizeof langs / sizeof langs[0] || !parse_language(p, len, &langs[n]))
            return false;
        bool again = false;
        for (size_t i = 0; i < n && !again; i++)
            again = strcmp(langs[i].range, langs[n].range) == 0;
        n += !again;
        p += len;
    }
    qsort(langs, n, sizeof langs[0], compare_languages);
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        o += sprintf(o, "%s%s", i ? "," : "", langs[i].range);
        if (langs[i].q < 1000) {
            char q[16];
            snprintf(q, sizeof q, "%d.%03d", 0, langs[i].q);
            size_t qn = strlen(q);
            while (qn > 3 && q[qn - 1] == '0')
                q[--qn] = '\0';
            o += sprintf(o, ";q=%s", langs[i].q == 0 ? "0" : q);
        }
    }
    *o = '\0';
    return true;
}

bool sf_policy_preferred_language(const char *accept_language, char *out, size_t size)
{
    int best = 0;
    for (const char *p = accept_language; p != NULL && *p != '\0';) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        struct language l;
        if (len == 0)
            break;
        if (!parse_language(p, len, &l))
            return false;
        if (l.q > best && strcmp(l.range, "*") != 0 && strlen(l.range) < size) {
            best = l.q; /* the first of equals stays */
            strcpy(out, l.range);
        }
        p += len;
    }
    return best > 0;
}

bool sf_policy_same_variant_but(const char *a, const char *b, const char *name)
{
    size_t n = strlen(name);
    for (;;) {
        /* Skip name's line on either side: "name=value" or "name!". */
        if (strncmp(a, name, n) == 0 && (a[n] == '=' || a[n] == '!'))
            a += strcspn(a, "\n") + (a[strcspn(a, "\n")] == '\n');
        if (strncmp(b, name, n) == 0 && (b[n] == '=' || b[n] == '!'))
            b += strcspn(b, "\n") + (b[strcspn(b, "\n")] == '\n');
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || strncmp(a, b, la) != 0)
            return false;
        if (a[la] == '\0' || b[lb] == '\0')
            return a[la] == b[lb];
        a += la + 1;
        b += lb + 1;
    }
}

char *sf_policy_variant(const char *names, const struct sf_fields *f)
{
    size_t cap = sizeof SF_VARIANT_MARK + strlen(names) + 1, len;
    char *out = sf_xmalloc(cap);
    len = (size_t)(stpcpy(out, SF_VARIANT_MARK) - out);
    for (const char *p = names; *p != '\0';) {
        size_t n = strcspn(p, ",");
        char *name = sf_xmalloc(n + 1);
        memcpy(name, p, n);
        name[n] = '\0';
        char *value = f->get(f->ctx, name);
        cap += n + 2 + (value ? strlen(value) : 0);
        out = sf_xrealloc(out, cap);
        if (len > sizeof SF_VARIANT_MARK - 1)
            out[len++] = '\n';
        memcpy(out + len, name, n);
        len += n;
        out[len++] = value ? '=' : '!';
        out[len] = '\0';
        if (value != NULL) {
            if (strcmp(name, "accept-language") != 0 || !normalize_languages(value, out + len))
                normalize_value(value, out + len);
            len += strlen(out + len);
        }
        free(value);
        free(name);
        p += n + (p[n] == ',');
    }
    return out;
}

bool sf_policy_language_hash(const char *key, const char *language, uint64_t *hash)
{
    static const char al[] = "accept-language";
    const char *mark = strstr(key, SF_VARIANT_MARK);
    if (mark == NULL || language == NULL)
        return false;
    /* What is hashed: the key up to its variant, the variant's lines but Accept-Language
     * (each with its newline), a NUL, the language lowercased. */
    size_t cap = strlen(key) + strlen(language) + 2;
    char small[1024];
    char *text = cap <= sizeof small ? small : sf_xmalloc(cap);
    const char *p = mark + sizeof SF_VARIANT_MARK - 1;
    size_t len = (size_t)(p - key);
    memcpy(text, key, len);
    bool named = false;
    while (*p != '\0') {
        size_t n = strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n');
        bool is_al = strncmp(p, al, sizeof al - 1) == 0 &&
                     (p[sizeof al - 1] == '=' || p[sizeof al - 1] == '!');
        named |= is_al;
        if (!is_al) { /* the line with its newline */
            memcpy(text + len, p, n);
            len += n;
        }
        p += n;
    }
    text[len++] = '\0';
    for (const char *c = language; *c != '\0'; c++)
        text[len++] = (char)tolower((unsigned char)*c);
    *hash = sf_keyed_hash(text, len);
    if (text != small)
        free(text);
    return named;
}

/* The q value of one Accept-Encoding element's parameters (after its coding): 1 when
 * absent; 0 for "q=0", "q=0.0" and the like (RFC 9110 §12.4.2). */
static bool weight_nonzero(const char *params, size_t len)
{
    for (const char *p = params; p < params + len;) {
        p += strspn(p, " \t;");
        if (p + 2 <= params + len && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            for (const char *d = p + 2; d < params + len && *d != ';'; d++)
                if (*d >= '1' && *d <= '9')
                    return true;
            return false;
        }
        p += strcspn(p, ";");
    }
    return true;
}

/* The codings a normalised Accept-Encoding may name, as bits: br 1, gzip 2, zstd 4. */
static unsigned coding_bits(const char *p, size_t n)
{
    if (n == 2 && sf_strneq_ci(p, "br", 2))
        return 1;
    if ((n == 4 && sf_strneq_ci(p, "gzip", 4)) || (n == 6 && sf_strneq_ci(p, "x-gzip", 6)))
        return 2;
    if (n == 4 && sf_strneq_ci(p, "zstd", 4))
        return 4;
    return n == 1 && *p == '*' ? 7 : 0;
}

const char *sf_policy_normalized_encoding(const char *accept_encoding)
{
    static const char *const sets[] = {NULL,   "br",       "gzip",       "br, gzip",
                                       "zstd", "br, zstd", "gzip, zstd", "br, gzip, zstd"};
    unsigned bits = 0;
    for (const char *p = accept_encoding; p != NULL && *p != '\0';) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t coding = strcspn(p, " \t;,");
        if (weight_nonzero(p + coding, len - coding))
            bits |= coding_bits(p, coding);
        p += len;
    }
    return sets[bits];
}
