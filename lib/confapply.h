/* confapply: one value of the config file checked and stored, private to lib/config*.c:
 * the file being loaded (for its messages), the positioned message itself, and a schema
 * row's value (confschema.h) checked against its kind's grammar (confvalue.h) into struct
 * sf_config or into a route's settings. config.c walks the file's top level with it, and
 * confroute.c a route's keys, so neither needs the other's internals. */
#ifndef SF_CONFAPPLY_H
#define SF_CONFAPPLY_H

#include "confschema.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A file being loaded, for messages: its path, its text (for positions), where the message
 * goes. */
struct sf_conf_loader {
    const char *path;
    const char *text;
    char *errbuf;
    size_t errlen;
};

/* Writes "FILE:LINE:COL: " and the message into ld's errbuf, the position that of the
 * value at json_path (confpos.h's paths; with at_key, of its key). Returns SF_EINVAL. */
enum sf_err sf_conf_fail_at(struct sf_conf_loader *ld, const char *json_path, bool at_key,
                            const char *fmt, ...) SF_FORMAT(4, 5);

/* Checks v against f's kind and range and stores it at base + f->off (base: cfg for the
 * top-level keys; a route's settings for the keys a route may set too). f->path is the
 * key's name in messages and where they point. */
enum sf_err sf_conf_apply_field(struct sf_conf_loader *ld, const struct sf_conf_field *f, json_t *v,
                                void *base, struct sf_config *cfg);

/* Free what a K_TARGETS or a K_PEERS value holds (also config.c's, clearing a config). */
void sf_conf_targets_clear(struct sf_targets *t);
void sf_conf_peers_clear(struct sf_peers *p);

#endif
