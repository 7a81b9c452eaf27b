/* The config loader on any file: never a crash, and every refusal names the file. */
#include "fuzz.h"

#include "../../lib/config.h"

#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
