/* confpos: where a key sits in a config file's text, and what an unknown key was likely
 * meant to be. Pure: text and names in, numbers and names out; no jansson, no schema (the
 * caller passes the key paths allowed), so it can be tested and fuzzed alone. */
#ifndef SF_CONFPOS_H
#define SF_CONFPOS_H

#include <stdbool.h>
#include <stddef.h>

/* The line and column (from 1) of the value at the dotted path in text ("cache.max_bytes";
 * "[N]" steps into element N, from 0, of an array: "routes[2].match.host"; a segment in
 * single quotes is one key, dots and all: "upstreams.'api.v2'.retries"), which must be
 * valid JSON (jansson has accepted it: it keeps no positions for values). With want_key,
 * the key naming it instead. A path not found gives the position of the deepest object
 * on its way; "" gives the first non-blank character. */
void sf_confpos_find(const char *text, const char *path, bool want_key, int *line, int *col);

/* For an "unknown key" message: writes the keys allowed in the object at the dotted
 * prefix ("" for the top), quoted and comma-separated, into out (cut at size), from the
 * npaths dotted key paths; returns the one closest to key when it looks like a typo (an
 * edit distance of at most 2), else NULL. The name returned stays valid until this thread
 * calls again. */
const char *sf_confpos_known_keys(const char *const *paths, size_t npaths, const char *prefix,
                                  const char *key, char *out, size_t size);

/* Whether rel (a dotted path relative to an object) is one of the npaths dotted key paths
 * allowed there; *object says it is the prefix of some (an object holding keys), which
 * counts too. */
bool sf_confpos_is_key(const char *const *paths, size_t npaths, const char *rel, bool *object);

/* The edit distance of two names, capped at 3 (names of 63 characters or more: 3), for a
 * hint among names that are not key paths (a pool's name may hold dots). */
unsigned sf_confpos_distance(const char *a, const char *b);

#endif
