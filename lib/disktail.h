/* disktail: the disk store's index tail, persisted the moment a full index moves it
 * (docs/disk.md, "Which URLs it holds"), so that a start never indexes a record the
 * running process had given up (its URL no longer counted: an invalidation of it wrote no
 * tombstone), whether it follows the checkpoint's chain or scans the whole log.
 *
 * The file <dir>/index.tail, little-endian: u32 magic "SFTL", u32 version, u64 store id,
 * u64 log size, u64 tail, u64 XXH3_64bits of the 32 bytes before it. Written as the
 * checkpoint is (a temporary file, fdatasync, rename, fsync of the directory), so a crash
 * leaves the old value or the new one; the writer saves it before it moves the tail, so
 * the file is never behind the tail whose sweeps uncounted a URL.
 *
 * Thread: any; the store's writer (and its open) are the only callers, one at a time. */
#ifndef SF_DISKTAIL_H
#define SF_DISKTAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Saves tail for the store store_id whose log has log_size bytes. False with err on an
 * I/O error (the caller must not move its tail then). */
bool sf_disktail_save(const char *dir, uint64_t store_id, uint64_t log_size, uint64_t tail,
                      char *err, size_t err_len);

/* fsync of the directory dir, so that a file created or renamed into it is there after
 * a power loss (the index tail, the checkpoint, the store's files). False with errno. */
bool sf_disktail_sync_dir(const char *dir);

/* Reads the tail saved in dir for this store and log size into *tail: 0 when there is
 * none, or it is of another store or size (left from a store made anew); UINT64_MAX when
 * it is damaged: it may have named any tail, so the load gives up every record (the loss
 * of a cache, never a given-up record served). False with errno when the file is there
 * but cannot be read (EMFILE, EACCES, EIO, a directory of that name): what it says is not
 * known, and the error may pass, so the caller keeps the store as it is and does not use
 * it this run rather than give up a cache over it. */
bool sf_disktail_load(const char *dir, uint64_t store_id, uint64_t log_size, uint64_t *tail);

#endif
