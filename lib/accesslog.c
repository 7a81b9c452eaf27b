/* accesslog: see accesslog.h.
 *
 * Two buffers: workers append lines to the active one under a lock held for a memcpy; the
 * writer swaps it for the other (empty) one and writes what it took with the lock let go.
 * The writer takes what there is every FLUSH_MS, or sooner when a worker's line fills
 * the active buffer past half (the only time a worker wakes it): under load, one write
 * carries thousands of lines and no worker makes a system call for its line. */
#include "accesslog.h"

#include "log.h"
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ---- one line ---- */

/* A bounded cursor into the line being written. */
struct out {
    char *p, *end;
};

static void put_raw(struct out *o, const char *s, size_t n)
{
    if (n > (size_t)(o->end - o->p))
        n = (size_t)(o->end - o->p);
    memcpy(o->p, s, n);
    o->p += n;
}

static void put_str(struct out *o, const char *s)
{
    put_raw(o, s, strlen(s));
}

/* s escaped, at most max bytes of output: for combined, '"', '\\' and bytes outside
 * printable ASCII as \xHH (nginx's ngx_http_log_escape: '"' is \x22, so a quoted field
 * never holds a '"' and every '\\' starts an escape); for JSON, '"' and '\\' backslashed
 * and the rest as \u00HH (so the line stays valid JSON whatever bytes a client sent). */
static void put_escaped(struct out *o, const char *s, size_t max, bool json)
{
    static const char hex[] = "0123456789ABCDEF";
    char *limit = o->end - o->p > (ptrdiff_t)max ? o->p + max : o->end;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char e[6];
        size_t n;
        if (json && (c == '"' || c == '\\')) {
            e[0] = '\\', e[1] = (char)c, n = 2;
        } else if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            e[0] = (char)c, n = 1;
        } else if (json) {
            memcpy(e, "\\u00", 4), e[4] = hex[c >> 4], e[5] = hex[c & 15], n = 6;
        } else {
            e[0] = '\\', e[1] = 'x', e[2] = hex[c >> 4], e[3] = hex[c & 15], n = 4;
        }
        if ((size_t)(limit - o->p) < n)
            return; /* cut here, never in the middle of an escape */
        memcpy(o->p, e, n);
        o->p += n;
    }
}

/* n in decimal, at least width digits (zero-padded). Without printf: a line has several
 * numbers, and this is on every request's path. */
static void put_uint(struct out *o, uint64_t n, int width)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0 || tmp + sizeof tmp - p < width);
    put_raw(o, p, (size_t)(tmp + sizeof tmp - p));
}

/* Seconds with millisecond resolution, as nginx writes $request_time ("0.012"). */
static void put_seconds(struct out *o, int64_t us)
{
    uint64_t u = us > 0 ? (uint64_t)us : 0;
    put_uint(o, u / 1000000, 1);
    put_raw(o, ".", 1);
    put_uint(o, u / 1000 % 1000, 3);
}

/* The status written: a client that went away before any response is 499, as nginx logs
 * it ("client closed request"). */
static unsigned status_of(const struct sf_access_entry *e)
{
    return e->status != 0 ? e->status : 499;
}

/* "30/Nov/2026:15:45:41 +0000" or "2026-11-30T15:45:41Z", remade once a second per
 * thread. */
static const char *time_text(int64_t time_s, bool iso)
{
    static _Thread_local int64_t last_s[2] = {-1, -1};
    static _Thread_local char text[2][32];
    if (last_s[iso] != time_s) {
        time_t t = (time_t)time_s;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(text[iso], sizeof text[iso],
                 iso ? "%Y-%m-%dT%H:%M:%SZ" : "%d/%b/%Y:%H:%M:%S +0000", &tm);
        last_s[iso] = time_s;
    }
    return text[iso];
}

static void combined_string(struct out *o, const char *s, size_t max)
{
    put_raw(o, "\"", 1);
    put_escaped(o, s != NULL ? s : "-", max, false);
    put_raw(o, "\"", 1);
}

static void format_combined(struct out *o, const struct sf_access_entry *e)
{
    put_escaped(o, e->client != NULL ? e->client : "-", 64, false);
    put_str(o, " - - [");
    put_str(o, time_text(e->time_s, false));
    put_str(o, "] \"");
    if (e->method != NULL) {
        put_escaped(o, e->method, 32, false);
        put_raw(o, " ", 1);
        put_escaped(o, e->target != NULL ? e->target : "-", 4096, false);
        put_raw(o, " ", 1);
        put_escaped(o, e->version != NULL ? e->version : "-", 16, false);
    }
    put_raw(o, "\" ", 2);
    put_uint(o, status_of(e), 3);
    put_raw(o, " ", 1);
    put_uint(o, e->body_bytes, 1);
    put_raw(o, " ", 1);
    combined_string(o, e->referer, 1024);
    put_raw(o, " ", 1);
    combined_string(o, e->user_agent, 1024);
    put_str(o, " cache=");
    put_escaped(o, e->cache != NULL ? e->cache : "-", 16, false);
    put_str(o, " rid=");
    put_escaped(o, e->request_id != NULL ? e->request_id : "-", 128, false);
    put_str(o, " first_byte=");
    if (e->first_byte_us >= 0)
        put_seconds(o, e->first_byte_us);
    else
        put_raw(o, "-", 1);
    put_str(o, " duration=");
    put_seconds(o, e->duration_us);
    if (e->upstream_status != 0) {
        put_str(o, " upstream_status=");
        put_uint(o, e->upstream_status, 3);
        put_str(o, " upstream_ttfb=");
        put_seconds(o, e->upstream_ttfb_us);
    } else {
        put_str(o, " upstream_status=- upstream_ttfb=-");
    }
    put_str(o, e->completed ? " completed=1" : " completed=0");
    put_str(o, " route=");
    put_escaped(o, e->route != NULL ? e->route : "-", 64, false);
    /* Fields added since go last, so that what parses the earlier ones keeps working. */
    if (e->upstream_tries != 0) {
        put_str(o, " upstream_tries=");
        put_uint(o, e->upstream_tries, 1);
        put_str(o, " upstream_addr=");
        put_escaped(o, e->upstream_addr != NULL ? e->upstream_addr : "-", 512, false);
    } else {
        put_str(o, " upstream_tries=- upstream_addr=-");
    }
    put_str(o, " tier=");
    put_escaped(o, e->tier != NULL ? e->tier : "-", 16, false);
}

/* ,"name": */
static void json_name(struct out *o, const char *name)
{
    put_raw(o, ",\"", 2);
    put_str(o, name);
    put_raw(o, "\":", 2);
}

/* ,"name":"value" (nothing when s is NULL). */
static void json_string(struct out *o, const char *name, const char *s, size_t max)
{
    if (s == NULL)
        return;
    json_name(o, name);
    put_raw(o, "\"", 1);
    put_escaped(o, s, max, true);
    put_raw(o, "\"", 1);
}

static void json_seconds(struct out *o, const char *name, int64_t us)
{
    json_name(o, name);
    put_seconds(o, us);
}

static void format_json(struct out *o, const struct sf_access_entry *e)
{
    put_str(o, "{\"time\":\"");
    put_str(o, time_text(e->time_s, true));
    put_raw(o, "\"", 1);
    json_string(o, "client", e->client, 64);
    json_string(o, "method", e->method, 32);
    json_string(o, "target", e->target, 4096);
    json_string(o, "version", e->version, 16);
    put_str(o, ",\"status\":");
    put_uint(o, status_of(e), 3);
    put_str(o, ",\"bytes\":");
    put_uint(o, e->body_bytes, 1);
    json_string(o, "referer", e->referer, 1024);
    json_string(o, "user_agent", e->user_agent, 1024);
    json_string(o, "cache", e->cache, 16);
    json_string(o, "request_id", e->request_id, 128);
    if (e->first_byte_us >= 0)
        json_seconds(o, "first_byte", e->first_byte_us);
    json_seconds(o, "duration", e->duration_us);
    if (e->upstream_status != 0) {
        put_str(o, ",\"upstream_status\":");
        put_uint(o, e->upstream_status, 3);
        json_seconds(o, "upstream_ttfb", e->upstream_ttfb_us);
    }
    if (e->upstream_tries != 0) {
        put_str(o, ",\"upstream_tries\":");
        put_uint(o, e->upstream_tries, 1);
        json_string(o, "upstream_addr", e->upstream_addr, 512);
    }
    put_str(o, e->completed ? ",\"completed\":true" : ",\"completed\":false");
    if (e->route != NULL)
        json_string(o, "route", e->route, 64);
    else
        put_str(o, ",\"route\":null");
    json_string(o, "tier", e->tier, 16);
    put_raw(o, "}", 1);
}

size_t sf_access_format_line(enum sf_access_format format, const struct sf_access_entry *e,
                             char *buf)
{
    /* The bounds of the strings add up to less than the line, less room for the rest:
     * the newline always fits. */
    struct out o = {buf, buf + SF_ACCESS_LINE_MAX - 1};
    if (format == SF_ACCESS_JSON)
        format_json(&o, e);
    else
        format_combined(&o, e);
    *o.p++ = '\n';
    return (size_t)(o.p - buf);
}

/* ---- request ids ---- */

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-._:+/=", c) != NULL;
}

/* xoroshiro128+, its state per thread seeded from the kernel once: ids need to be unique,
 * not secret, and cost no system call per request. */
static uint64_t next_random(void)
{
    static _Thread_local uint64_t s[2];
    if (s[0] == 0 && s[1] == 0) {
        while (getrandom(s, sizeof s, 0) != (ssize_t)sizeof s || (s[0] == 0 && s[1] == 0))
            continue;
    }
    uint64_t a = s[0], b = s[1];
    uint64_t r = a + b;
    b ^= a;
    s[0] = ((a << 24) | (a >> 40)) ^ b ^ (b << 16);
    s[1] = (b << 37) | (b >> 27);
    return r;
}

void sf_access_request_id(const char *incoming, char out[SF_REQUEST_ID_MAX])
{
    size_t n = 0;
    while (incoming != NULL && incoming[n] != '\0' && n < SF_REQUEST_ID_MAX - 1 &&
           id_char(incoming[n]))
        n++;
    if (n > 0 && incoming[n] == '\0') {
        memcpy(out, incoming, n + 1);
        return;
    }
    snprintf(out, SF_REQUEST_ID_MAX, "%016llx%016llx", (unsigned long long)next_random(),
             (unsigned long long)next_random());
}

/* ---- the writer ---- */

#define FLUSH_MS 100 /* how long a line may wait in the buffer when traffic is light */

struct sf_access_log {
    atomic_bool on;      /* access_log.path is not null: lines are taken */
    atomic_int format;   /* enum sf_access_format */
    char *path;          /* the writer's: NULL: standard output */
    int fd;              /* the writer's; -1: none opened yet */
    int next_fd;         /* (lock) a reload's new file, for the writer to move to */
    char *next_path;     /* (lock) its path (NULL: standard output) */
    bool moving;         /* (lock) next_fd is waiting */
    size_t move_at;      /* (lock) with moving: active's bytes before it are the old file's */
    uint64_t move_lines; /* (lock) and the lines they hold */
    struct sf_mutex lock;
    pthread_cond_t wake;     /* the active buffer half full, reopen, stop */
    pthread_cond_t ended;    /* the writer is done */
    char *active, *spare;    /* (lock) lines are appended to active */
    size_t len, cap;         /* (lock) bytes in active; each buffer's size */
    uint64_t lines;          /* (lock) lines in active */
    bool reopen, stop, done; /* (lock) */
    pthread_t thread;
};

static int open_path(const char *path)
{
    if (path == NULL)
        return STDOUT_FILENO;
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

static void close_fd(int fd)
{
    if (fd >= 0 && fd != STDOUT_FILENO)
        close(fd);
}

/* The writer moves to the file a reload opened: what was taken before is the old one's. */
static void move_file(struct sf_access_log *log, int fd, char *path)
{
    close_fd(log->fd);
    log->fd = fd;
    free(log->path);
    log->path = path;
}

static void reopen_file(struct sf_access_log *log)
{
    if (log->path == NULL || log->fd < 0)
        return;
    int fd = open_path(log->path);
    if (fd < 0) {
        sf_log_error("access log: cannot reopen %s: %s; still writing to the old file", log->path,
                     strerror(errno));
        return;
    }
    close(log->fd);
    log->fd = fd;
    sf_log_info("access log: reopened %s", log->path);
}

/* Writes n bytes holding lines lines; on failure they are counted as dropped. */
static void write_out(struct sf_access_log *log, const char *data, size_t n, uint64_t lines)
{
    static struct sf_ratelimit failing;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(log->fd, data + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            SF_COUNT_N(access_log_dropped, lines);
            sf_log_limited(&failing, 10000, SF_LOG_ERROR, "access log: write to %s failed: %s",
                           log->path != NULL ? log->path : "standard output",
                           w < 0 ? strerror(errno) : "nothing written");
            return;
        }
        done += (size_t)w;
    }
    SF_COUNT_N(access_log_lines, lines);
}

static void *writer_main(void *arg)
{
    struct sf_access_log *log = arg;
    sf_mutex_lock(&log->lock);
    for (;;) {
        while (log->len == 0 && !log->reopen && !log->moving && !log->stop)
            sf_cond_wait_ms(&log->wake, &log->lock, FLUSH_MS);
        if (log->len < log->cap / 2 && !log->reopen && !log->moving && !log->stop)
            sf_cond_wait_ms(&log->wake, &log->lock, FLUSH_MS); /* gather more, unless woken */
        if (log->len == 0 && log->stop && !log->reopen && !log->moving)
            break;
        char *take = log->active;
        size_t n = log->len;
        uint64_t lines = log->lines;
        bool reopen = log->reopen, moving = log->moving;
        size_t old_n = moving ? log->move_at : n;
        uint64_t old_lines = moving ? log->move_lines : lines;
        int next_fd = log->next_fd;
        char *next_path = log->next_path;
        log->active = log->spare;
        log->len = 0;
        log->lines = 0;
        log->reopen = log->moving = false;
        log->next_path = NULL;
        sf_mutex_unlock(&log->lock);
        if (moving && log->fd < 0) { /* was off: every line taken is the new file's */
            move_file(log, next_fd, next_path);
            moving = false;
            old_n = n, old_lines = lines;
        }
        if (old_n > 0) /* lines taken before a reopen or a move: the old file's */
            write_out(log, take, old_n, old_lines);
        if (moving)
            move_file(log, next_fd, next_path);
        if (n > old_n) /* lines queued after the move was asked for: the new file's */
            write_out(log, take + old_n, n - old_n, lines - old_lines);
        if (reopen)
            reopen_file(log);
        sf_mutex_lock(&log->lock);
        log->spare = take;
    }
    log->done = true;
    pthread_cond_signal(&log->ended);
    sf_mutex_unlock(&log->lock);
    return NULL;
}

/* path's file opened for appending (NULL, "-": standard output), with *file its path
 * (NULL: standard output; caller frees); -1 with errno set when it cannot be. */
static int open_config_path(const char *path, char **file)
{
    bool to_stdout = path == NULL || strcmp(path, "-") == 0;
    int fd = open_path(to_stdout ? NULL : path);
    *file = fd >= 0 && !to_stdout ? sf_xstrdup(path) : NULL;
    return fd;
}

struct sf_access_log *sf_access_log_open(const char *path, enum sf_access_format format,
                                         size_t buffer_bytes)
{
    char *file = NULL;
    int fd = path != NULL ? open_config_path(path, &file) : -1;
    if (path != NULL && fd < 0)
        return NULL;
    struct sf_access_log *log = sf_xcalloc(1, sizeof *log);
    atomic_init(&log->on, path != NULL);
    atomic_init(&log->format, (int)format);
    log->path = file;
    log->fd = fd;
    log->cap = buffer_bytes > SF_ACCESS_LINE_MAX ? buffer_bytes : SF_ACCESS_LINE_MAX;
    log->active = sf_xmalloc(log->cap);
    log->spare = sf_xmalloc(log->cap);
    sf_mutex_init(&log->lock);
    sf_cond_init(&log->wake);
    sf_cond_init(&log->ended);
    SF_PTOK(pthread_create(&log->thread, NULL, writer_main, log));
    return log;
}

bool sf_access_log_on(const struct sf_access_log *log)
{
    return log != NULL && atomic_load_explicit(&log->on, memory_order_relaxed);
}

void sf_access_log_write(struct sf_access_log *log, const struct sf_access_entry *e)
{
    if (!sf_access_log_on(log))
        return;
    char line[SF_ACCESS_LINE_MAX];
    int format = atomic_load_explicit(&log->format, memory_order_relaxed);
    size_t n = sf_access_format_line((enum sf_access_format)format, e, line);
    sf_mutex_lock(&log->lock);
    while (format != atomic_load_explicit(&log->format, memory_order_relaxed)) {
        /* A reload changed the format meanwhile: a line goes in the format of the file it
         * lands in (formatted with the lock let go; the format changes under it). */
        format = atomic_load_explicit(&log->format, memory_order_relaxed);
        sf_mutex_unlock(&log->lock);
        n = sf_access_format_line((enum sf_access_format)format, e, line);
        sf_mutex_lock(&log->lock);
    }
    bool fits = log->len + n <= log->cap && !log->stop;
    bool half = fits && log->len < log->cap / 2 && log->len + n >= log->cap / 2;
    if (fits) {
        memcpy(log->active + log->len, line, n);
        log->len += n;
        log->lines++;
    }
    sf_mutex_unlock(&log->lock);
    if (!fits)
        SF_COUNT(access_log_dropped); /* the writer is that far behind: the line, not the request */
    else if (half)
        pthread_cond_signal(&log->wake);
}

void sf_access_log_reopen(struct sf_access_log *log)
{
    if (log == NULL)
        return;
    sf_mutex_lock(&log->lock);
    log->reopen = true;
    sf_mutex_unlock(&log->lock);
    pthread_cond_signal(&log->wake);
}

bool sf_access_log_reconfigure(struct sf_access_log *log, const char *path, bool path_changed,
                               enum sf_access_format format)
{
    if (path != NULL && path_changed) {
        char *file = NULL;
        int fd = open_config_path(path, &file);
        if (fd < 0)
            return false;
        sf_mutex_lock(&log->lock);
        if (log->moving) { /* two reloads before the writer looked: the first file never used */
            close_fd(log->next_fd);
        } else {
            log->move_at = log->len; /* what is queued now is the old file's */
            log->move_lines = log->lines;
        }
        free(log->next_path);
        log->next_fd = fd;
        log->next_path = file;
        log->moving = true;
        atomic_store(&log->format, (int)format);
        sf_mutex_unlock(&log->lock);
        pthread_cond_signal(&log->wake);
    } else {
        sf_mutex_lock(&log->lock);
        atomic_store(&log->format, (int)format);
        sf_mutex_unlock(&log->lock);
    }
    atomic_store(&log->on, path != NULL);
    return true;
}

void sf_access_log_close(struct sf_access_log *log, uint64_t wait_ms)
{
    if (log == NULL)
        return;
    sf_mutex_lock(&log->lock);
    log->stop = true;
    pthread_cond_signal(&log->wake);
    uint64_t until = sf_now_ms() + wait_ms;
    for (uint64_t now = sf_now_ms(); !log->done && now < until; now = sf_now_ms())
        sf_cond_wait_ms(&log->ended, &log->lock, until - now);
    bool done = log->done;
    uint64_t unwritten = log->lines;
    sf_mutex_unlock(&log->lock);
    if (!done) {
        /* Stuck writing to a pipe nobody reads: leave it to the process's exit. */
        sf_log_warn("access log: its writer is stuck; %llu lines not written",
                    (unsigned long long)unwritten);
        SF_PTOK(pthread_detach(log->thread));
        return;
    }
    SF_PTOK(pthread_join(log->thread, NULL));
    close_fd(log->fd);
    free(log->active);
    free(log->spare);
    free(log->path);
    pthread_cond_destroy(&log->wake);
    pthread_cond_destroy(&log->ended);
    sf_mutex_destroy(&log->lock);
    free(log);
}
