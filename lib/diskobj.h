/* diskobj: a stored response as the head bytes of a disk record (diskstore.h), and back.
 * What the head holds is what a hit needs of a stored object (singleflight.h struct
 * sf_obj) besides its body: the status, the stored fields, the verdict's parts a lookup and
 * a response read (freshness lifetime, age, never_stale, must_validate, the RFC 5861
 * windows, heuristic, fresh_from, ignored), when its head came, its Content-Length, and,
 * for a response that varies (RFC 9111 §4.1), what it varies on and the variant its
 * request selected. The record's body is the response's body.
 *
 * A key whose responses vary also has a VARY record (SF_DISKSTORE_VARIANT_VARY) whose head
 * names what they vary on: sf_diskobj_encode_vary.
 *
 * The encoding (little-endian, every length checked on the way back):
 *
 *    u32 magic "SFOB"   u16 version   u16 flags (SF_DISKOBJ_F_*)
 *    u16 status   u8 fresh_from   u8 zero   u32 ignored
 *    i64 fresh_s   i64 age_s   i64 response_time_s   i64 content_length
 *    i64 stale_if_error_s   i64 stale_while_revalidate_s
 *    str vary_names   str variant          (str: u32 length, bytes; 0xffffffff for none)
 *    u32 field count, then per field: str name, str value
 *
 * A head that does not decode (another version, a length past its end, bytes left over)
 * is refused whole: the caller drops the record (sf_diskstore_forget). The record's own
 * checksum has already caught damage; this guards against a head of another version or a
 * bug, never trusts a length it has not checked against what is there.
 *
 * Pure; any thread. */
#ifndef SF_DISKOBJ_H
#define SF_DISKOBJ_H

#include "http.h"
#include "policy.h"
#include "slice.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SF_DISKOBJ_VERSION 1
#define SF_DISKOBJ_MAX_FIELDS 1024 /* far above what resphead.h lets an origin send */

/* A stored response as the disk holds it (owned strings; sf_diskobj_clear frees). */
struct sf_diskobj {
    int status;
    struct sf_hdrs hdrs;
    int64_t content_length;
    struct sf_verdict verdict; /* shareable and storable; reason NULL */
    int64_t response_time_s;
    char *vary_names; /* NULL: it does not vary */
    char *variant;    /* with vary_names */
};

void sf_diskobj_clear(struct sf_diskobj *d);

/* The head of o's record: a malloc'd buffer of *len bytes. The caller passes the parts of
 * the object (borrowed): status, fields, content_length, verdict, response_time_s,
 * vary_names and variant (both may be NULL). NULL when it would not fit a record's head
 * (SF_DISKREC_MAX_HEAD). */
uint8_t *sf_diskobj_encode(const struct sf_diskobj *o, uint32_t *len);
/* Decodes head (len bytes) into *out (empty on entry). The response is read at now_s: its
 * age becomes the age it has now (RFC 9111 §4.2.3: what it had, plus the time since its
 * head came) and its response_time_s now_s, so that a cache that counts residence from
 * the moment it stores it again (cache.c) and the Age sent (respond.c) both go on from
 * the age the response really has. False, with *out empty, when head is not one this
 * version wrote whole. */
bool sf_diskobj_decode(const uint8_t *head, uint32_t len, int64_t now_s, struct sf_diskobj *out);

/* The key's record in the VARY slot says what its responses are: they vary on names (a
 * VARY record; names "": they do not vary any more, the key's own record is its response,
 * written over an older VARY or SLICED record), or it is kept in slices of a
 * representation (a SLICED record, the memory cache's sliced marker, slice.h). Its head,
 * malloc'd, *len bytes: */
uint8_t *sf_diskobj_encode_vary(const char *names, uint32_t *len);
/* The names a VARY record's head holds (caller frees), or NULL when it does not decode. */
char *sf_diskobj_decode_vary(const uint8_t *head, uint32_t len);
uint8_t *sf_diskobj_encode_sliced(const struct sf_slice_ref *ref, uint32_t *len);
/* The representation a SLICED record's head names, into *out (empty on entry; its strings
 * owned); false, with *out empty, when it does not decode. */
bool sf_diskobj_decode_sliced(const uint8_t *head, uint32_t len, struct sf_slice_ref *out);

/* The value of the field name (case-insensitive) in an encoded response head, every line
 * of it joined with ", ", into out (cap bytes, NUL-terminated): for a tag purge of records
 * (diskpurge.h). NULL when the head has no such field or does not decode; a value longer
 * than cap is cut (a token past the cut is not matched). */
const char *sf_diskobj_field(const uint8_t *head, uint32_t len, const char *name, char *out,
                             size_t cap);

#endif
