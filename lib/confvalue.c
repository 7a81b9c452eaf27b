/* confvalue: the grammars of the config file's values (confvalue.h), and the public
 * parsers of addresses, upstream URLs, byte counts and durations (config.h). Pure but for
 * the two that look at files, sf_confvalue_appendable and sf_confvalue_read_file. */
#include "confvalue.h"

#include "config-t.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An HTTP field name: a token (RFC 9110 §5.1). */
bool sf_confvalue_field_name(const char *s)
{
    if (*s == '\0' || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') &&
            strchr("!#$%&'*+-.^_`|~", *s) == NULL)
            return false;
    return true;
}

bool sf_confvalue_parse_addr(const char *s, struct sf_addr *out)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon[1] == '\0')
        return false;
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || errno != 0 || port > 65535 || colon[1] < '0' || colon[1] > '9')
        return false;
    size_t hlen = (size_t)(colon - s);
    char host[64];
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        s++;
        hlen -= 2;
    }
    if (hlen >= sizeof host)
        return false;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (hlen == 0)
        strcpy(host, "0.0.0.0");
    else if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    unsigned char tmp[16];
    if (inet_pton(AF_INET, host, tmp) != 1 && inet_pton(AF_INET6, host, tmp) != 1)
        return false;
    strcpy(out->host, host);
    out->port = (uint16_t)port;
    return true;
}

bool sf_confvalue_parse_upstream(const char *s)
{
    const char *rest = NULL;
    if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    if (rest == NULL || *rest == '\0' || *rest == '/')
        return false;
    return strpbrk(s, " \t\r\n?#") == NULL;
}

/* Parses digits and a unit from a table; false on anything else. */
static bool parse_with_units(const char *s, const char *const *units, const uint64_t *mult,
                             size_t nunits, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno != 0)
        return false;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < nunits; i++) {
        if (strcmp(end, units[i]) == 0) {
            if (n > UINT64_MAX / mult[i])
                return false;
            *out = n * mult[i];
            return true;
        }
    }
    return false;
}

bool sf_confvalue_parse_bytes(const char *s, uint64_t *out)
{
    static const char *const units[] = {"", "B", "KB", "KiB", "MB", "MiB", "GB", "GiB"};
    static const uint64_t mult[] = {1, 1, 1000, 1024, 1000000, 1 << 20, 1000000000, 1 << 30};
    return parse_with_units(s, units, mult, 8, out);
}

bool sf_confvalue_parse_ms(const char *s, uint64_t *out)
{
    static const char *const units[] = {"", "ms", "s", "m", "min", "h", "d"};
    static const uint64_t mult[] = {1, 1, 1000, 60000, 60000, 3600000, 86400000};
    return parse_with_units(s, units, mult, 7, out);
}

/* One entry of a targeted-fields list into *t: "Name", or {"name": "Name", "strip": bool}. */
bool sf_confvalue_target(json_t *item, struct sf_targeted *t)
{
    json_t *name = json_is_object(item) ? json_object_get(item, "name") : item;
    json_t *strip = json_is_object(item) ? json_object_get(item, "strip") : NULL;
    size_t keys = json_is_object(item) ? json_object_size(item) : 1;
    if (!json_is_string(name) || !sf_confvalue_field_name(json_string_value(name)) ||
        (strip != NULL && !json_is_boolean(strip)) || keys != (strip != NULL ? 2u : 1u))
        return false;
    *t = (struct sf_targeted){sf_xstrdup(json_string_value(name)), json_is_true(strip)};
    return true;
}

bool sf_confvalue_token(const char *t)
{
    if (strlen(t) < 16)
        return false;
    for (; *t; t++)
        if (*t <= 0x20 || *t >= 0x7f)
            return false;
    return true;
}

bool sf_confvalue_peer_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return false;
    return true;
}

/* One entry of cluster.peers into *p; false when it is not one. */
bool sf_confvalue_peer(json_t *item, struct sf_peer *p)
{
    json_t *id = json_object_get(item, "id"), *url = json_object_get(item, "url");
    json_t *weight = json_object_get(item, "weight");
    size_t known = (id != NULL) + (url != NULL) + (weight != NULL);
    if (!json_is_object(item) || json_object_size(item) != known || !json_is_string(id) ||
        !sf_confvalue_peer_id(json_string_value(id)) || !json_is_string(url) ||
        strncmp(json_string_value(url), "http://", 7) != 0 ||
        !sf_confvalue_parse_upstream(json_string_value(url)) ||
        (weight != NULL && (!json_is_integer(weight) || json_integer_value(weight) < 1 ||
                            json_integer_value(weight) > 1000)))
        return false;
    *p = (struct sf_peer){sf_xstrdup(json_string_value(id)), sf_xstrdup(json_string_value(url)),
                          weight != NULL ? (unsigned)json_integer_value(weight) : 1};
    return true;
}

/* RFC 1123 §2.1: a label may start with a digit. */
bool sf_confvalue_host_name(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c == '-' && label > 0)) {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

/* Whether path could be opened for appending, without creating it: an existing file is
 * opened (and closed), a missing one needs a directory it may be created in. Sets errno
 * when not. */
bool sf_confvalue_appendable(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return true;
    }
    if (errno != ENOENT)
        return false;
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL   ? sf_xstrdup(".")
                : slash == path ? sf_xstrdup("/")
                                : strndup(path, (size_t)(slash - path));
    bool ok = dir != NULL && access(dir, W_OK | X_OK) == 0;
    int saved = errno;
    free(dir);
    errno = saved;
    return ok;
}

/* The whole of a regular file of at most 16 MiB, or NULL with errno set (EISDIR for
 * anything but a regular file, EFBIG for a larger one). */
char *sf_confvalue_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    struct stat st;
    int err = fstat(fileno(f), &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EISDIR : 0;
    if (err == 0 && st.st_size >= (1 << 24))
        err = EFBIG;
    char *buf = NULL;
    if (err == 0) {
        size_t len = fread(buf = sf_xmalloc((size_t)st.st_size + 1), 1, (size_t)st.st_size, f);
        err = ferror(f) ? EIO : 0;
        buf[len] = '\0'; /* a file that shrank meanwhile: what it holds now */
    }
    fclose(f);
    if (err != 0) {
        free(buf);
        errno = err;
        return NULL;
    }
    return buf;
}
