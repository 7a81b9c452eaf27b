/* confvalue: the grammars of the config file's values, apart from where they sit in the
 * file: field names, tokens, peer ids, host names, a target or a peer entry, and the files
 * a value names (read whole, or checked for appending). Each check says yes or no; what to
 * tell the user is confapply.c's. The address, URL, byte count and duration grammars are
 * also the command line's (cmd/sfproxy.c). */
#ifndef SF_CONFVALUE_H
#define SF_CONFVALUE_H

#include "cluster.h"
#include "config-t.h"
#include "targeted.h"

#include <jansson.h>
#include <stdbool.h>

/* An HTTP field name: a token (RFC 9110 §5.1) of at most 64 characters. */
bool sf_confvalue_field_name(const char *s);
/* A secret: at least 16 printable characters, no space. */
bool sf_confvalue_token(const char *s);
/* A peer's id: 1 to 63 letters, digits, '-', '_' and '.'. */
bool sf_confvalue_peer_id(const char *s);
/* A DNS host name (RFC 1123): labels of letters, digits and '-', not starting or ending
 * with '-', at most 253 characters. */
bool sf_confvalue_host_name(const char *s);

/* One entry of cache.targeted_fields into *t: "Name", or {"name": "Name", "strip":
 * bool}; t->name is the caller's to free. False, *t untouched, when item is not one. */
bool sf_confvalue_target(json_t *item, struct sf_targeted *t);
/* One entry of cluster.peers into *p: {"id": ..., "url": "http://...", "weight": 1..1000};
 * p->id and p->url are the caller's to free. False, *p untouched, when item is not one. */
bool sf_confvalue_peer(json_t *item, struct sf_peer *p);

/* Whether path could be opened for appending, without creating it: an existing file is
 * opened (and closed), a missing one needs a directory it may be created in. Sets errno
 * when not. */
bool sf_confvalue_appendable(const char *path);
/* The whole of a regular file of at most 16 MiB, or NULL with errno set (EISDIR for
 * anything but a regular file, EFBIG for a larger one). Caller frees. */
char *sf_confvalue_read_file(const char *path);

/* Parses "HOST:PORT" ("127.0.0.1:8080", "[::1]:80", ":8080" for all IPv4). */
bool sf_confvalue_parse_addr(const char *s, struct sf_addr *out);
/* Parses an http:// or https:// base URL for the upstream. */
bool sf_confvalue_parse_upstream(const char *s);
/* "256MiB", "64KiB", "10MB", "512B", "512" -> bytes. */
bool sf_confvalue_parse_bytes(const char *s, uint64_t *out);
/* "1500ms", "5s", "2m", "1h", "250" (ms) -> milliseconds. */
bool sf_confvalue_parse_ms(const char *s, uint64_t *out);

#endif
