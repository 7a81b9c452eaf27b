/* The config loader on any file: never a crash, and every refusal names the file. */
#include "fuzz.h"

#include "../../lib/config.h"

#include <string.h>
#include <unistd.h>

/* Whether data may name a file the loader opens: access_log.path is created for appending
 * at load, and admin.token_file, upstream_tls.ca_file, tls.cert and tls.key are read (a
 * generated "/dev/stdin" would block). Such inputs are left out: fuzzing must not touch
 * files where a generated path points. */
static bool names_a_file(const uint8_t *data, size_t size)
{
    /* "\"path\"" quoted: a route's "path_prefix" or "path_regex" names no file. */
    static const char *const keys[] = {"\"path\"", "file", "tls"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        size_t n = strlen(keys[k]);
        for (size_t i = 0; i + n <= size; i++)
            if (memcmp(data + i, keys[k], n) == 0)
                return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (names_a_file(data, size))
        return 0;
    char path[] = "/tmp/sfproxy-fuzz-config-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    FUZZ_CHECK(write(fd, data, size) == (ssize_t)size, "short write");
    close(fd);
    struct sf_config cfg;
    char err[1024];
    if (sf_config_load(path, &cfg, err, sizeof err) != SF_OK)
        FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0, "message without the file: %s", err);
    sf_config_clear(&cfg);
    unlink(path);
    return 0;
}
