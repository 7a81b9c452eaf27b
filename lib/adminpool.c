/* adminpool: see adminpool.h. The answer names the server and says its state after the
 * change ("drained", or "up", or "down (probes)" when lifting a drain left it down: a
 * drain's end never forces a failing server up). */
#include "adminpool.h"

#include <stdlib.h>
#include <string.h>

static char *answer(json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

char *sf_adminpool_set_state(struct sf_pools *ps, const char *path, const char *state,
                             unsigned *status)
{
    size_t plen = strlen(SF_ADMINPOOL_PREFIX);
    SF_ASSERT(strncmp(path, SF_ADMINPOOL_PREFIX, plen) == 0);
    const char *rest = path + plen;
    const char *slash = strchr(rest, '/');
    if (slash == NULL || slash == rest || slash[1] == '\0') {
        *status = 400;
        return answer(json_pack("{s:s}", "error",
                                "give the pool and the server: POST "
                                "/_sfproxy/upstreams/NAME/SERVER?state=drain|up"));
    }
    bool drain = state != NULL && strcmp(state, "drain") == 0;
    if (!drain && (state == NULL || strcmp(state, "up") != 0)) {
        *status = 400;
        return answer(json_pack("{s:s}", "error", "give state=drain or state=up"));
    }
    char *pool = sf_xstrndup(rest, (size_t)(slash - rest));
    const char *server = slash + 1;
    json_t *doc = NULL;
    if (sf_pools_set_drain(ps, pool, server, drain) == 0)
        doc = sf_pools_server_json(ps, pool, server);
    if (doc == NULL) { /* none, or a reload took it away in between */
        *status = 404;
        doc = json_pack("{s:s, s:s, s:s}", "error", "no such server in a current upstream",
                        "upstream", pool, "server", server);
        if (doc == NULL) /* names that are not UTF-8 cannot be echoed in JSON */
            doc = json_pack("{s:s}", "error", "no such server in a current upstream");
    } else {
        *status = 200;
        json_object_set_new(doc, "upstream", json_string(pool));
        json_object_set_new(doc, "server", json_string(server));
    }
    free(pool);
    return answer(doc);
}
