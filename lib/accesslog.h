/* accesslog: one line per finished request, formatted on the worker that finished it and
 * written to a file (or standard output) by a thread of its own, so that no worker ever
 * waits on disk I/O. Lines go into a bounded buffer; when the writer falls that far
 * behind, a line is dropped and counted (access_log_dropped), never a request delayed.
 * sf_access_log_reopen (SIGUSR1) makes the writer open its path again, after logrotate
 * moved the file away. */
#ifndef SF_ACCESSLOG_H
#define SF_ACCESSLOG_H

#include "base.h"

enum sf_access_format {
    SF_ACCESS_COMBINED, /* nginx/Apache combined, then key=value fields */
    SF_ACCESS_JSON,     /* one JSON object per line */
};

/* What one line says. Strings may be NULL (written "-", or left out of JSON; a route
 * that is none is JSON's null). */
struct sf_access_entry {
    const char *client;     /* the peer's address */
    int64_t time_s;         /* wall clock when the request finished */
    const char *method;     /* NULL for a head refused before it was parsed */
    const char *target;     /* as sent */
    const char *version;    /* "HTTP/1.1" */
    unsigned status;        /* sent to the client; 0: none was */
    uint64_t body_bytes;    /* body bytes handed to the connection */
    const char *referer;    /* the Referer field */
    const char *user_agent; /* the User-Agent field */
    const char *cache;      /* HIT, MISS, COLLAPSED, PASS, REVALIDATED, STALE; NULL: none */
    const char *request_id;
    int64_t first_byte_us;     /* request to its response head; -1: no response */
    int64_t duration_us;       /* request to the end of its response */
    unsigned upstream_status;  /* the origin's status, when this request caused the fetch */
    int64_t upstream_ttfb_us;  /* that fetch's start to the origin's head; -1: none */
    unsigned upstream_tries;   /* servers of an upstream pool that fetch tried; 0: no pool */
    const char *upstream_addr; /* their names, comma-separated, in order (nginx's
                                * $upstream_addr); NULL: no pool */
    bool completed;            /* the response was sent whole */
    const char *route;         /* the name of the config's route it took; NULL: none */
    const char *tier;          /* a hit's: "memory" or "disk"; NULL: not a hit */
};

/* The longest line: each string is cut to a bound of its own (the target to 4 KiB as
 * escaped, Referer and User-Agent to 1 KiB, the rest shorter), never the line's shape. */
#define SF_ACCESS_LINE_MAX 8192

/* Formats e as one line, newline included, into buf (SF_ACCESS_LINE_MAX bytes). Returns
 * the line's length. Pure. */
size_t sf_access_format_line(enum sf_access_format format, const struct sf_access_entry *e,
                             char *buf);

/* A request id: the client's X-Request-Id when it is 1 to 64 characters of letters,
 * digits and "-._:+/=" (a UUID, a base64 or hex token), else 32 new random hex digits.
 * Written into out; any thread. */
#define SF_REQUEST_ID_MAX 65
void sf_access_request_id(const char *incoming, char out[SF_REQUEST_ID_MAX]);

struct sf_access_log;

/* Starts a writer for path ("-": standard output; NULL: none, until a reload names one)
 * with a buffer of buffer_bytes. NULL, with errno set, when the file cannot be opened for
 * appending. */
struct sf_access_log *sf_access_log_open(const char *path, enum sf_access_format format,
                                         size_t buffer_bytes);
/* Whether lines are taken (access_log.path is not null; log may be NULL: no). */
bool sf_access_log_on(const struct sf_access_log *log);
/* Formats e and hands it to the writer, or drops it when the buffer is full. Any thread;
 * log may be NULL (no access log). */
void sf_access_log_write(struct sf_access_log *log, const struct sf_access_entry *e);
/* A reload's access_log.path and .format (path NULL: lines are no longer taken). With
 * path_changed the new file is opened here, and the writer moves to it once it has
 * written what it holds; false, with errno set, when it cannot be opened (then nothing
 * changed). The format applies to lines from now on. One thread at a time. */
bool sf_access_log_reconfigure(struct sf_access_log *log, const char *path, bool path_changed,
                               enum sf_access_format format);
/* Asks the writer to open its path again (any thread; not from a signal handler). */
void sf_access_log_reopen(struct sf_access_log *log);
/* Writes what is buffered (waiting at most wait_ms for a writer stuck on a full pipe),
 * stops the writer and frees log. NULL is fine. */
void sf_access_log_close(struct sf_access_log *log, uint64_t wait_ms);

#endif
