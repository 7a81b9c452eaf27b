/* fetchspec: see fetchspec.h. */
#include "fetchspec.h"

#include "keyurl.h"
#include "live.h"
#include "reqbody.h"
#include "singleflight.h"

#include <stdlib.h>

void sf_fetch_spec_free(struct sf_fetch_spec *spec)
{
    if (spec == NULL)
        return;
    free(spec->method);
    free(spec->url);
    sf_hdrs_clear(&spec->hdrs);
    sf_reqbody_unref(spec->body);
    free(spec->get_key);
    sf_keymap_free(spec->keymap); /* before snap: it borrows from it */
    free(spec->fallback_url);
    free(spec->peer_path);
    free(spec->peer_host);
    sf_obj_unref(spec->stale);
    sf_snap_unref(spec->snap);
    sf_attempts_clear(&spec->att);
    free(spec);
}
