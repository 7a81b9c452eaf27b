/* attempt: see attempt.h. */
#include "attempt.h"

#include "config-t.h"
#include "http.h"

#include <stdlib.h>
#include <string.h>

char *sf_attempt_url(const char *url, const char *key_base, const char *server_url)
{
    size_t blen = strlen(key_base);
    SF_ASSERT(strncmp(url, key_base, blen) == 0); /* outbound.c joined it so */
    return sf_http_join_url(server_url, url + blen);
}

void sf_attempt_note(struct sf_attempts *a, int server, const char *name)
{
    SF_ASSERT(server >= 0 && server < SF_BALANCE_MAX_SERVERS);
    a->tried |= SF_BALANCE_BIT(server);
    a->tries++;
    a->server = server;
    size_t had = a->addrs != NULL ? strlen(a->addrs) : 0;
    a->addrs = sf_xrealloc(a->addrs, had + strlen(name) + 2);
    if (had > 0)
        a->addrs[had++] = ',';
    strcpy(a->addrs + had, name);
}

bool sf_attempt_may_resend(const char *method, bool has_content, bool connected)
{
    if (!connected)
        return true;
    static const char *const idempotent[] = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};
    for (size_t i = 0; !has_content && i < sizeof idempotent / sizeof *idempotent; i++)
        if (strcmp(method, idempotent[i]) == 0)
            return true;
    return false;
}

bool sf_attempt_fail_status(const struct sf_pool_def *def, int status)
{
    for (size_t i = 0; i < def->nfail_status; i++)
        if ((int)def->fail_status[i] == status)
            return true;
    return false;
}

bool sf_attempt_retries_left(const struct sf_attempts *a, const struct sf_pool_def *def)
{
    return a->tries <= def->retries;
}

void sf_attempts_clear(struct sf_attempts *a)
{
    free(a->addrs);
    memset(a, 0, sizeof *a);
}
