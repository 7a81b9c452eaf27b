/* diskrec: one record of the disk tier's cyclic log, encoded and decoded (pure; no I/O).
 *
 * A record is an 80-byte header, the cache key, the stored response head and its body, padded
 * with zeros to a multiple of SF_DISKREC_ALIGN. Every integer is little-endian:
 *
 *    0 u32 magic      "SFDR"                    48 i64 stored_ms   unix ms, when stored
 *    4 u32 hdr_sum    XXH3(seed, [8, 80)), low   56 i64 expires_ms  unix ms, 0 for none
 *    8 u64 sum        XXH3(seed, [16, end))      64 u32 head_len
 *   16 u16 version    SF_DISKREC_VERSION         68 u32 body_len
 *   18 u16 flags      SF_DISKREC_F_*             72 u64 reserved    zero
 *   20 u32 key_len                               80 key, head, body; zero padding
 *   24 u64 pos        the record's place in the log (logical: grows across laps)
 *   32 u64 key_hash   the index's key
 *   40 u64 variant    the variant's hash within the key; 0 for none
 *
 * sum covers every byte from 16 to the body's end, so nothing a client could receive is
 * trusted before it; hdr_sum covers the rest of the header (sum included), so that a scan
 * of the log may trust a record's lengths from its first 80 bytes alone. pos tells a
 * record of this lap from one the log has not yet overwritten since the last. Both sums are
 * XXH3_64bits_withSeed under the store's secret seed (its superblock's): a response body an
 * origin crafted to hold a record header at its own place in the log cannot pass a scan as
 * a record, since nobody who has not read the store file can compute its hdr_sum.
 *
 * Thread: any; nothing is shared. */
#ifndef SF_DISKREC_H
#define SF_DISKREC_H

#include <stddef.h>
#include <stdint.h>

#define SF_DISKREC_MAGIC 0x52444653u /* "SFDR" read as little-endian bytes */
#define SF_DISKREC_VERSION 1
#define SF_DISKREC_HEADER 80
#define SF_DISKREC_ALIGN 64
#define SF_DISKREC_MAX_KEY 16384       /* longer cache keys are not stored on disk */
#define SF_DISKREC_MAX_HEAD (1u << 20) /* a stored head; sfproxy's own limit is lower */
#define SF_DISKREC_MAX_BODY (1u << 30) /* larger objects are stored as slices */
#define SF_DISKREC_F_TOMBSTONE 0x0001u /* a purge: no head, no body; the key is gone */
#define SF_DISKREC_F_KNOWN 0x0001u     /* every flag this version writes */

enum sf_diskrec_err {
    SF_DISKREC_OK = 0,
    SF_DISKREC_TRUNCATED,      /* fewer bytes than the header or its lengths say */
    SF_DISKREC_BAD_MAGIC,      /* no record starts here */
    SF_DISKREC_BAD_HEADER_SUM, /* a header, damaged */
    SF_DISKREC_BAD_VERSION,    /* a record of a version we do not read */
    SF_DISKREC_BAD_FIELD,      /* unknown flags, a reserved field not zero */
    SF_DISKREC_BAD_LENGTH,     /* a length over its limit or the caller's */
    SF_DISKREC_BAD_SUM,        /* key, head or body damaged (a torn write, a bit flip) */
    SF_DISKREC_STALE,          /* a sound record, but not the one expected at this place */
};

/* What a record says about itself: the fields of the header above. */
struct sf_diskrec_meta {
    uint64_t pos;
    uint64_t key_hash;
    uint64_t variant;
    int64_t stored_ms;
    int64_t expires_ms;
    unsigned flags;
    uint32_t key_len;
    uint32_t head_len;
    uint32_t body_len;
};

/* A decoded record. key, head and body point into the caller's buffer (borrowed). */
struct sf_diskrec_view {
    struct sf_diskrec_meta meta;
    const uint8_t *key;
    const uint8_t *head;
    const uint8_t *body;
    size_t size; /* the whole record's bytes in the log, padding included */
};

/* The bytes a record with these lengths takes in the log (a multiple of SF_DISKREC_ALIGN),
 * or 0 when a length is over its limit. */
size_t sf_diskrec_size(uint32_t key_len, uint32_t head_len, uint32_t body_len);

/* Encodes a record of meta (its lengths say how many bytes key, head and body have) into
 * out, padding included, and sets *written to sf_diskrec_size(). SF_DISKREC_BAD_LENGTH when
 * a length is over its limit or a tombstone has a head or a body, SF_DISKREC_BAD_FIELD for
 * an unknown flag, SF_DISKREC_TRUNCATED when out_len is too small; out is then untouched. */
enum sf_diskrec_err sf_diskrec_encode(uint64_t seed, const struct sf_diskrec_meta *meta,
                                      const void *key, const void *head, const void *body,
                                      uint8_t *out, size_t out_len, size_t *written);

/* Decodes and checks the header in the first len bytes of buf: magic, hdr_sum, version,
 * flags, every length against its limit and the whole record against max_size (the
 * log's size). For a scan, which reads headers only; the body stays unchecked. */
enum sf_diskrec_err sf_diskrec_decode_header(uint64_t seed, const uint8_t *buf, size_t len,
                                             uint64_t max_size, struct sf_diskrec_meta *out);

/* Decodes a whole record from the len bytes of buf: the header as above, then sum over
 * key, head and body. On SF_DISKREC_OK out points into buf; on any error out is zeroed
 * and no byte of buf may be used. */
enum sf_diskrec_err sf_diskrec_decode(uint64_t seed, const uint8_t *buf, size_t len,
                                      uint64_t max_size, struct sf_diskrec_view *out);

/* SF_DISKREC_STALE unless the record says it was written at pos (the index's or the scan's
 * position): a record left by an earlier lap, or a neighbour read at a wrong offset. */
enum sf_diskrec_err sf_diskrec_check_pos(const struct sf_diskrec_meta *meta, uint64_t pos);

/* A short lowercase phrase for err, for logs and stats ("bad checksum"). */
const char *sf_diskrec_strerror(enum sf_diskrec_err err);

#endif
