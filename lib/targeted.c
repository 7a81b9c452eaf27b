/* targeted: see targeted.h. The Dictionary grammar is RFC 8941 §3.2 and its parsing
 * algorithm §4.2.2: keys are lowercase; "=" has no space around it; members are separated
 * by a comma with optional spaces or tabs; a member without "=" is Boolean true. */
#include "targeted.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum item_type { T_BOOL, T_INTEGER, T_STRING, T_OTHER };

struct item {
    enum item_type type;
    bool boolean;
    int64_t integer;
    const char *string; /* T_STRING: the content, escapes still in, string_len bytes */
    size_t string_len;
};

static bool is_lcalpha(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ); its length, or 0. */
static size_t parse_key(const char *p)
{
    if (!is_lcalpha(*p) && *p != '*')
        return 0;
    size_t n = 1;
    while (is_lcalpha(p[n]) || is_digit(p[n]) || (p[n] != '\0' && strchr("_-.*", p[n])))
        n++;
    return n;
}

/* A bare item at *p (§4.2.3.1); advances *p. False when malformed. */
static bool parse_bare_item(const char **p, struct item *it)
{
    const char *s = *p;
    if (*s == '-' || is_digit(*s)) { /* Integer or Decimal (§4.2.4) */
        size_t n = *s == '-', digits = 0;
        int64_t v = 0;
        while (is_digit(s[n]) && digits < 15) {
            v = v * 10 + (s[n++] - '0');
            digits++;
        }
        if (digits == 0 || is_digit(s[n]))
            return false;
        it->type = T_INTEGER;
        if (s[n] == '.') { /* a Decimal: another type than the directives take */
            it->type = T_OTHER;
            for (n++; is_digit(s[n]); n++)
                ;
        }
        it->integer = *s == '-' ? -v : v;
        *p = s + n;
        return true;
    }
    if (*s == '"') { /* String (§4.2.5): printable ASCII, \" and \\ escaped */
        size_t n = 1;
        for (; s[n] != '"'; n++) {
            if (s[n] == '\\' && (s[n + 1] == '"' || s[n + 1] == '\\'))
                n++;
            else if (s[n] < 0x20 || s[n] > 0x7e || s[n] == '\\')
                return false;
        }
        it->type = T_STRING;
        it->string = s + 1;
        it->string_len = n - 1;
        *p = s + n + 1;
        return true;
    }
    if (*s == '?' && (s[1] == '0' || s[1] == '1')) { /* Boolean (§4.2.8) */
        it->type = T_BOOL;
        it->boolean = s[1] == '1';
        *p = s + 2;
        return true;
    }
    if ((*s >= 'A' && *s <= 'Z') || is_lcalpha(*s) || *s == '*') { /* Token (§4.2.6) */
        size_t n = 1;
        while (s[n] > 0x20 && s[n] < 0x7f && !strchr("\"(),;<=>?@[\\]{}", s[n]))
            n++;
        it->type = T_OTHER;
        *p = s + n;
        return true;
    }
    if (*s == ':') { /* Byte Sequence (§4.2.7) */
        const char *end = strchr(s + 1, ':');
        if (end == NULL)
            return false;
        it->type = T_OTHER;
        *p = end + 1;
        return true;
    }
    return false;
}

/* Parameters after an item (§4.2.3.2): read and ignored. False when malformed. */
static bool skip_parameters(const char **p)
{
    while (**p == ';') {
        (*p)++;
        while (**p == ' ')
            (*p)++;
        size_t n = parse_key(*p);
        if (n == 0)
            return false;
        *p += n;
        struct item ignored;
        if (**p == '=' && (++*p, !parse_bare_item(p, &ignored)))
            return false;
    }
    return true;
}

/* Appends one directive to out (room checked by the caller's sizing). */
static void emit(char *out, size_t size, const char *key, size_t key_len, const char *value,
                 size_t value_len, bool quoted)
{
    size_t at = strlen(out);
    snprintf(out + at, size - at, "%s%.*s%s%s%.*s%s", at ? ", " : "", (int)key_len, key,
             value ? "=" : "", quoted ? "\"" : "", (int)value_len, value ? value : "",
             quoted ? "\"" : "");
}

static bool key_is(const char *key, size_t n, const char *name)
{
    return strlen(name) == n && strncmp(key, name, n) == 0;
}

/* One member, key = item, into out; false when its value's type is not the directive's. */
static bool convert(char *out, size_t size, const char *key, size_t n, const struct item *it)
{
    static const char *const deltas[] = {"max-age", "s-maxage", "stale-while-revalidate",
                                         "stale-if-error"};
    static const char *const flags[] = {"no-store",        "no-cache",        "private",
                                        "public",          "must-revalidate", "proxy-revalidate",
                                        "must-understand", "no-transform",    "immutable"};
    for (size_t i = 0; i < sizeof deltas / sizeof deltas[0]; i++) {
        if (!key_is(key, n, deltas[i]))
            continue;
        if (it->type != T_INTEGER || it->integer < 0)
            return false;
        char digits[24];
        int len = snprintf(digits, sizeof digits, "%lld", (long long)it->integer);
        emit(out, size, key, n, digits, (size_t)len, false);
        return true;
    }
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (!key_is(key, n, flags[i]))
            continue;
        bool qualified = it->type == T_STRING && (i == 1 || i == 2); /* no-cache, private */
        if (qualified)
            emit(out, size, key, n, it->string, it->string_len, true);
        else if (it->type != T_BOOL)
            return false;
        else if (it->boolean)
            emit(out, size, key, n, NULL, 0, false);
        return true;
    }
    return true; /* an extension sfproxy does not act on: left out (RFC 9111 §5.2.3) */
}

struct member {
    const char *key;
    size_t n;
    struct item it;
};

/* Parses the Dictionary at value into *members (caller frees); false when it is not one or
 * is empty. */
static bool parse_dictionary(const char *value, struct member **members, size_t *count)
{
    size_t cap = 0;
    *members = NULL;
    *count = 0;
    const char *p = value;
    while (*p == ' ')
        p++;
    while (*p != '\0') {
        struct member m = {p, parse_key(p), {T_BOOL, true, 0, NULL, 0}};
        if (m.n == 0)
            return false;
        p += m.n;
        if (*p == '=') {
            p++;
            if (*p == '(' || !parse_bare_item(&p, &m.it))
                return false; /* an Inner List is no directive's type */
        }
        if (!skip_parameters(&p))
            return false;
        if (*count == cap) {
            cap = cap ? cap * 2 : 8;
            *members = sf_xrealloc(*members, cap * sizeof **members);
        }
        (*members)[(*count)++] = m;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        if (*p++ != ',')
            return false;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return false; /* a trailing comma */
    }
    return *count > 0;
}

char *sf_targeted_cache_control(const char *value)
{
    if (value == NULL)
        return NULL;
    struct member *members;
    size_t count;
    bool ok = parse_dictionary(value, &members, &count);
    size_t size = strlen(value) * 2 + 16; /* "?1" members grow by at most ", " */
    char *out = sf_xcalloc(1, size);
    for (size_t i = 0; ok && i < count; i++) {
        bool later = false; /* a key given again: the last value counts (RFC 8941 §4.2.2) */
        for (size_t k = i + 1; k < count && !later; k++)
            later = members[k].n == members[i].n &&
                    strncmp(members[k].key, members[i].key, members[i].n) == 0;
        ok = later || convert(out, size, members[i].key, members[i].n, &members[i].it);
    }
    free(members);
    if (ok)
        return out;
    free(out);
    return NULL;
}
