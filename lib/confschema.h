/* confschema: the config file's schema, private to lib/config*.c. One table lists every
 * key: its dotted path, the kind of value it takes (which names its grammar, its hint in a
 * message, and how --print-config writes it), where it lands in struct sf_config, and its
 * range. Object members not in the table are unknown keys.
 *
 * Adding a key is one row in confschema.c's table, a default in sf_config_defaults and a
 * row in its topic's table in docs/configuration.md; a new kind of value is a new enum
 * sf_conf_kind and a case in each switch over it (confapply.c's sf_conf_apply_field, confdump.c's
 * field_value, sf_conf_kind_hint), which -Wswitch makes the compiler list. */
#ifndef SF_CONFSCHEMA_H
#define SF_CONFSCHEMA_H

#include "config-t.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sf_conf_kind {
    K_ADDR,
    K_ADDR_OR_NULL,
    K_URL, /* "upstream": a base URL, or the name of a pool of "upstreams" (resolved at the end) */
    K_BOOL,
    K_UINT,
    K_BYTES,
    K_MS,
    K_LOGLEVEL,
    K_FIELD,
    K_SWITCH,     /* true / false, or an object of the settings under it (with "enabled") */
    K_NETS,       /* a list of addresses and networks: ["10.0.0.0/8", "::1"] */
    K_DESTS,      /* K_NETS and host names: ["api.example.com", "*.example.org:443"] */
    K_TOKEN,      /* a secret string of 16 or more printable characters */
    K_TARGETS,    /* a list of field names, or {"name": ..., "strip": true} (RFC 9213) */
    K_TOKEN_FILE, /* a file holding a K_TOKEN, read at load time */
    K_LOG_PATH,   /* "-" (standard output), a file that can be appended to (not created), null */
    K_LOG_FORMAT, /* "combined" or "json" */
    K_FILE,       /* the path of a readable file (checked at load) */
    K_HOSTNAME,   /* a DNS name: letters, digits, '-' and '.' */
    K_PEM_FILE,   /* a PEM file read at load: its path here, its text in tls_*_pem */
    K_NAME,       /* a peer's id: 1 to 63 letters, digits, '-', '_', '.' */
    K_PEERS,      /* a list of {"id": ..., "url": "http://host:port", "weight": 1} */
    K_ROUTES,     /* the ordered list of routes (confroute.h) */
    K_UPSTREAMS,  /* the named pools of origin servers (confupstream.h) */
    K_DIR,        /* the path of a directory; not looked at when loading (--check-config does) */
};

struct sf_conf_field {
    const char *path; /* dotted: "cache.max_bytes" */
    enum sf_conf_kind kind;
    size_t off;
    uint64_t min, max; /* for K_UINT, K_BYTES, K_MS */
};

#define OFF(f) offsetof(struct sf_config, f)

/* The schema: sf_conf_nfields rows, in the order --print-config writes them. */
extern const struct sf_conf_field sf_conf_schema[];
extern const size_t sf_conf_nfields;

/* What a value of kind k must be, for a message: "a byte count like ...". */
const char *sf_conf_kind_hint(enum sf_conf_kind k);

/* The flag in cfg saying whether the listener a K_ADDR_OR_NULL key addresses is on. */
bool *sf_conf_listener_on(struct sf_config *cfg, const struct sf_conf_field *f);

#endif
