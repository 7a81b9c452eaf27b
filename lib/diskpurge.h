/* diskpurge: the purges (and RFC 9111 §4.4 invalidations) the disk tier must still apply:
 * each is a rule with the log position of its tombstone, and hides every record written
 * before it that it selects. A rule lives until the log's tail passes its position (every
 * record older than it is overwritten by then). Pure; no I/O, no lock (the store's).
 *
 * A rule is persisted as a tombstone record (diskrec.h, flag TOMBSTONE) whose key is the
 * rule's encoding (sf_diskpurge_encode), so a restart's scan and the checkpoint bring it
 * back. */
#ifndef SF_DISKPURGE_H
#define SF_DISKPURGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sf_diskpurge_kind {
    SF_DISKPURGE_URL,    /* every record whose URL is text (every credential variant) */
    SF_DISKPURGE_PREFIX, /* every record whose URL starts with text */
    SF_DISKPURGE_TAG,    /* every record whose head's tag_header field lists text as a token */
};

struct sf_diskpurge_rule {
    uint64_t pos; /* its tombstone's log position: records below it are selected */
    enum sf_diskpurge_kind kind;
    bool soft; /* invalidate (usable after validation) rather than remove */
    const char *text;
    const char *tag_header; /* for TAG; NULL otherwise */
};

/* What a record offers to be matched: its URL (from its key: the caller's reading) and a
 * way to read a field of its head (the caller's encoding): tag_values returns the value
 * of the head's field named tag_header, or NULL. tag_values may be NULL (no field). */
struct sf_diskstore_match {
    const char *url;
    size_t url_len;
    const char *(*tag_values)(void *ctx, const uint8_t *head, uint32_t head_len,
                              const char *tag_header);
    void *ctx;
};

enum sf_diskpurge_hit {
    SF_DISKPURGE_NONE,        /* no rule selects it */
    SF_DISKPURGE_REMOVED,     /* a purge selects it: it is gone */
    SF_DISKPURGE_INVALIDATED, /* only soft purges select it */
};

struct sf_diskpurge;

struct sf_diskpurge *sf_diskpurge_new(void);
void sf_diskpurge_free(struct sf_diskpurge *p); /* NULL is fine */

/* A rule whose tombstone is queued, not yet written: it selects every record. */
#define SF_DISKPURGE_PENDING UINT64_MAX

/* Adds r (its strings copied); r->pos may be SF_DISKPURGE_PENDING. */
void sf_diskpurge_add(struct sf_diskpurge *p, const struct sf_diskpurge_rule *r);
/* The tombstone of r, a rule added PENDING, was written at pos: that pending rule (the
 * oldest one equal to r in kind, soft, text and tag_header) now has pos. */
void sf_diskpurge_settle(struct sf_diskpurge *p, const struct sf_diskpurge_rule *r, uint64_t pos);
/* Drops the rules below tail; how many. */
size_t sf_diskpurge_retire(struct sf_diskpurge *p, uint64_t tail);
size_t sf_diskpurge_count(const struct sf_diskpurge *p);
/* Of the count, the soft (or hard) rules: settled slots and pending tombstones. */
size_t sf_diskpurge_count_of(const struct sf_diskpurge *p, bool soft);
/* The bound on rules (docs/disk.md): drops every settled rule of this softness, for the
 * caller to add one rule that selects every record (PREFIX "") in their place, whose
 * tombstone it queues after all of theirs, so that it selects at least what each did.
 * Pending rules stay (their tombstones are queued, and settle finds them). How many went. */
size_t sf_diskpurge_collapse(struct sf_diskpurge *p, bool soft);

/* What the rules written after rec_pos say of the record at rec_pos with head and m. A URL
 * rule costs a hash lookup; prefix and tag rules are walked (they are an admin's, rare). */
enum sf_diskpurge_hit sf_diskpurge_check(const struct sf_diskpurge *p, uint64_t rec_pos,
                                         const struct sf_diskstore_match *m, const uint8_t *head,
                                         uint32_t head_len);

/* The next rule at or after *cursor (start at 0) into *out (its strings borrowed until the
 * set changes), for the checkpoint; false at the end. */
bool sf_diskpurge_next(const struct sf_diskpurge *p, size_t *cursor, struct sf_diskpurge_rule *out);

/* A rule as a tombstone's key: the bytes written into out (at most cap), 0 when it does not
 * fit. And back: false when key is not a rule this version writes (the record is then
 * damaged); out's strings point into scratch (cap bytes), pos is the record's. */
size_t sf_diskpurge_encode(const struct sf_diskpurge_rule *r, uint8_t *out, size_t cap);
bool sf_diskpurge_decode(const uint8_t *key, size_t key_len, uint64_t pos, char *scratch,
                         size_t cap, struct sf_diskpurge_rule *out);

#endif
