/* The position finder and the typo hint alone, on any JSON jansson accepts (the finder's
 * contract) and any path: the position found is inside the text and at the start of a
 * value or of a key; the hint list is cut at its buffer and the hint is one of the keys. */
#include "fuzz.h"

#include "../../lib/confpos.h"

#include <jansson.h>
#include <string.h>

/* The byte at line:col (from 1) of text, or -1 when it lies past the text's end. */
static int char_at(const char *text, int line, int col)
{
    const char *p = text;
    for (int l = 1; l < line; l++) {
        p = strchr(p, '\n');
        if (p == NULL)
            return -1;
        p++;
    }
    for (int c = 1; c < col; c++)
        if (*p++ == '\0' || p[-1] == '\n')
            return -1;
    return (unsigned char)*p;
}

static const char *const paths[] = {"listen",        "cache.max_bytes",      "cache.slice_bytes",
                                    "admin.listen",  "admin.token",          "cluster.peers",
                                    "forward_proxy", "forward_proxy.enabled"};

/* Input: a dotted path, a newline, then the JSON text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_string(data, size);
    char *nl = strchr(in, '\n');
    if (nl == NULL || nl - in > 200) {
        free(in);
        return 0;
    }
    *nl = '\0';
    const char *path = in, *text = nl + 1;
    json_t *root = json_loads(text, JSON_DECODE_ANY, NULL);
    if (root != NULL) {
        for (int want_key = 0; want_key <= 1; want_key++) {
            int line = 0, col = 0;
            sf_confpos_find(text, path, want_key, &line, &col);
            int c = char_at(text, line, col);
            FUZZ_CHECK(c >= 0 && strchr("\"{[-0123456789tfn", c) != NULL,
                       "%s: %d:%d is no value's start (%d)", path, line, col, c);
        }
        json_decref(root);
    }
    const char *dot = strrchr(path, '.');
    char prefix[256], out[64];
    snprintf(prefix, sizeof prefix, "%.*s", dot ? (int)(dot - path) : 0, path);
    const char *near = sf_confpos_known_keys(paths, sizeof paths / sizeof paths[0], prefix,
                                             dot ? dot + 1 : path, out, sizeof out);
    FUZZ_CHECK(memchr(out, '\0', sizeof out) != NULL, "hint list not terminated");
    bool listed = near == NULL;
    for (size_t i = 0; !listed && i < sizeof paths / sizeof paths[0]; i++)
        listed = strstr(paths[i], near) != NULL;
    FUZZ_CHECK(listed, "hint %s is no key", near);
    free(in);
    return 0;
}
