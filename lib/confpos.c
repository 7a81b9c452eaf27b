/* confpos: positions in a config file's text, and typo hints (confpos.h).
 *
 * jansson parses the file and reports syntax errors with their position. It keeps no
 * positions for values, so for the errors we find ourselves a small scanner walks the
 * (already valid) text along the path of the bad value to recover its line and column.
 * It trusts the text to be valid JSON (on other text it can read past the end), so it
 * runs only on text jansson has accepted. The hint for an unknown key is the allowed key nearest to it by
 * edit distance. No state: every call works on its arguments alone. */
#include "confpos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scan {
    const char *p;
    int line, col;
};

static void adv(struct scan *s)
{
    if (*s->p == '\n') {
        s->line++;
        s->col = 1;
    } else {
        s->col++;
    }
    s->p++;
}

static void skip_ws(struct scan *s)
{
    while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')
        adv(s);
}

/* Moves past a string; if key is non-NULL, says whether the string equals it. */
static bool skip_string(struct scan *s, const char *key, size_t keylen)
{
    const char *start = s->p + 1;
    adv(s);
    while (*s->p != '"' && *s->p != '\0') {
        if (*s->p == '\\')
            adv(s);
        adv(s);
    }
    bool match =
        key != NULL && (size_t)(s->p - start) == keylen && strncmp(start, key, keylen) == 0;
    adv(s);
    return match;
}

static void skip_value(struct scan *s)
{
    skip_ws(s);
    if (*s->p == '"') {
        skip_string(s, NULL, 0);
    } else if (*s->p == '{' || *s->p == '[') {
        int depth = 0;
        do {
            if (*s->p == '"') {
                skip_string(s, NULL, 0);
                continue;
            }
            if (*s->p == '{' || *s->p == '[')
                depth++;
            else if (*s->p == '}' || *s->p == ']')
                depth--;
            adv(s);
        } while (depth > 0 && *s->p != '\0');
    } else {
        while (*s->p != '\0' && strchr(",}] \t\r\n", *s->p) == NULL)
            adv(s);
    }
}

/* Steps into element n of the array at s (on its '['); false when there is none. */
static bool enter_element(struct scan *s, unsigned long n)
{
    adv(s);
    skip_ws(s);
    for (unsigned long k = 0; k < n; k++) {
        if (*s->p == ']' || *s->p == '\0')
            return false;
        skip_value(s);
        skip_ws(s);
        if (*s->p != ',')
            return false;
        adv(s);
        skip_ws(s);
    }
    return *s->p != ']' && *s->p != '\0';
}

/* Steps to the value of the member key (keylen bytes) of the object at s (on its '{');
 * at_key: where the key is. False when there is none. */
static bool enter_member(struct scan *s, const char *key, size_t keylen, struct scan *at_key)
{
    adv(s);
    for (;;) {
        skip_ws(s);
        if (*s->p != '"')
            return false;
        *at_key = *s;
        bool match = skip_string(s, key, keylen);
        skip_ws(s);
        adv(s); /* ':' */
        skip_ws(s);
        if (match)
            return true;
        skip_value(s);
        skip_ws(s);
        if (*s->p != ',')
            return false;
        adv(s);
    }
}

void sf_confpos_find(const char *text, const char *path, bool want_key, int *line, int *col)
{
    struct scan s = {text, 1, 1};
    skip_ws(&s);
    *line = s.line;
    *col = s.col;
    while (*path != '\0') {
        if (*path == '[') {
            char *end;
            unsigned long n = strtoul(path + 1, &end, 10);
            if (*s.p != '[' || *end != ']' || !enter_element(&s, n))
                return;
            *line = s.line;
            *col = s.col;
            path = end + 1;
            path += *path == '.';
            continue;
        }
        /* A quoted segment is one key even with dots in it (a pool named "api.v2"). */
        bool quoted = *path == '\'' && strchr(path + 1, '\'') != NULL;
        path += quoted;
        size_t seglen = quoted ? strcspn(path, "'") : strcspn(path, ".[");
        struct scan at_key;
        if (*s.p != '{' || !enter_member(&s, path, seglen, &at_key))
            return;
        bool last = path[seglen + quoted] == '\0';
        *line = (want_key && last) ? at_key.line : s.line;
        *col = (want_key && last) ? at_key.col : s.col;
        path += seglen + quoted;
        path += *path == '.';
    }
}

/* Edit distance of two short names, capped at 3: enough to spot a typo. */
static unsigned distance(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    unsigned row[64];
    if (alen >= 63 || blen >= 63)
        return 3;
    for (size_t j = 0; j <= blen; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= alen; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= blen; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[blen] < 3 ? row[blen] : 3;
}

unsigned sf_confpos_distance(const char *a, const char *b)
{
    return distance(a, strlen(a), b);
}

const char *sf_confpos_known_keys(const char *const *paths, size_t npaths, const char *prefix,
                                  const char *key, char *out, size_t size)
{
    static _Thread_local char nearest[64];
    unsigned best = 3;
    size_t plen = strlen(prefix), used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < npaths; i++) {
        const char *p = paths[i];
        if (plen > 0 && (strncmp(p, prefix, plen) != 0 || p[plen] != '.'))
            continue;
        const char *name = plen > 0 ? p + plen + 1 : p;
        size_t nlen = strcspn(name, ".");
        char item[64], bare[64];
        snprintf(item, sizeof item, "\"%.*s\"", (int)nlen, name);
        if (strstr(out, item) != NULL)
            continue;
        snprintf(bare, sizeof bare, "%.*s", (int)nlen, name);
        unsigned d = distance(key, strlen(key), bare);
        if (d < best) {
            best = d;
            snprintf(nearest, sizeof nearest, "%s", bare);
        }
        if (used < size)
            used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "", item);
    }
    return best <= 2 ? nearest : NULL;
}

bool sf_confpos_is_key(const char *const *paths, size_t npaths, const char *rel, bool *object)
{
    size_t len = strlen(rel);
    *object = false;
    for (size_t i = 0; i < npaths; i++) {
        if (strcmp(paths[i], rel) == 0)
            return true;
        if (strncmp(paths[i], rel, len) == 0 && paths[i][len] == '.')
            *object = true;
    }
    return *object;
}
