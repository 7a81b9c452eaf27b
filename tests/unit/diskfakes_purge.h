/* Test-only fake of lib/diskpurge.c for test_diskstore.c, compiled only while that file is
 * absent (the load helper writes it; delete this file when it is merged). Rules in an
 * array, walked; URL and prefix rules compare the match's URL, tag rules its tag_values.
 * Enough for the store's tests, not a model of the real module's costs. */
#define FAKE_RULES 64

struct fake_rule {
    uint64_t pos;
    enum sf_diskpurge_kind kind;
    bool soft;
    char *text, *tag_header;
};

struct sf_diskpurge {
    struct fake_rule r[FAKE_RULES];
    size_t n;
};

struct sf_diskpurge *sf_diskpurge_new(void)
{
    return sf_xcalloc(1, sizeof(struct sf_diskpurge));
}

void sf_diskpurge_free(struct sf_diskpurge *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->r[i].text);
        free(p->r[i].tag_header);
    }
    free(p);
}

void sf_diskpurge_add(struct sf_diskpurge *p, const struct sf_diskpurge_rule *r)
{
    SF_ASSERT(p->n < FAKE_RULES);
    p->r[p->n++] = (struct fake_rule){r->pos, r->kind, r->soft, sf_xstrdup(r->text),
                                      sf_xstrdup_opt(r->tag_header)};
}

static bool fake_same(const struct fake_rule *f, const struct sf_diskpurge_rule *r)
{
    return f->kind == r->kind && f->soft == r->soft && strcmp(f->text, r->text) == 0 &&
           (f->tag_header == NULL) == (r->tag_header == NULL) &&
           (f->tag_header == NULL || strcmp(f->tag_header, r->tag_header) == 0);
}

void sf_diskpurge_settle(struct sf_diskpurge *p, const struct sf_diskpurge_rule *r, uint64_t pos)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->r[i].pos == SF_DISKPURGE_PENDING && fake_same(&p->r[i], r)) {
            p->r[i].pos = pos;
            return;
        }
    }
    SF_ASSERT(!"settle of a rule never added");
}

size_t sf_diskpurge_retire(struct sf_diskpurge *p, uint64_t tail)
{
    size_t kept = 0, n = p->n;
    for (size_t i = 0; i < p->n; i++) {
        if (p->r[i].pos < tail) {
            free(p->r[i].text);
            free(p->r[i].tag_header);
        } else {
            p->r[kept++] = p->r[i];
        }
    }
    p->n = kept;
    return n - kept;
}

size_t sf_diskpurge_count(const struct sf_diskpurge *p)
{
    return p->n;
}

enum sf_diskpurge_hit sf_diskpurge_check(const struct sf_diskpurge *p, uint64_t rec_pos,
                                         const struct sf_diskstore_match *m, const uint8_t *head,
                                         uint32_t head_len)
{
    enum sf_diskpurge_hit hit = SF_DISKPURGE_NONE;
    for (size_t i = 0; i < p->n; i++) {
        const struct fake_rule *f = &p->r[i];
        size_t tl = strlen(f->text);
        bool sel = false;
        if (f->pos <= rec_pos)
            continue;
        if (f->kind == SF_DISKPURGE_URL)
            sel = m->url_len == tl && memcmp(m->url, f->text, tl) == 0;
        else if (f->kind == SF_DISKPURGE_PREFIX)
            sel = m->url_len >= tl && memcmp(m->url, f->text, tl) == 0;
        else if (m->tag_values != NULL) {
            const char *v = m->tag_values(m->ctx, head, head_len, f->tag_header);
            sel = v != NULL && strstr(v, f->text) != NULL;
        }
        if (sel && !f->soft)
            return SF_DISKPURGE_REMOVED;
        if (sel)
            hit = SF_DISKPURGE_INVALIDATED;
    }
    return hit;
}

bool sf_diskpurge_next(const struct sf_diskpurge *p, size_t *cursor, struct sf_diskpurge_rule *out)
{
    if (*cursor >= p->n)
        return false;
    const struct fake_rule *f = &p->r[(*cursor)++];
    *out = (struct sf_diskpurge_rule){f->pos, f->kind, f->soft, f->text, f->tag_header};
    return true;
}

/* kind, soft, then text and tag_header, each with its NUL. */
size_t sf_diskpurge_encode(const struct sf_diskpurge_rule *r, uint8_t *out, size_t cap)
{
    const char *tag = r->tag_header != NULL ? r->tag_header : "";
    size_t tl = strlen(r->text) + 1, gl = strlen(tag) + 1;
    if (2 + tl + gl > cap)
        return 0;
    out[0] = (uint8_t)r->kind;
    out[1] = r->soft;
    memcpy(out + 2, r->text, tl);
    memcpy(out + 2 + tl, tag, gl);
    return 2 + tl + gl;
}

bool sf_diskpurge_decode(const uint8_t *key, size_t key_len, uint64_t pos, char *scratch,
                         size_t cap, struct sf_diskpurge_rule *out)
{
    if (key_len < 4 || key_len - 2 > cap || key[key_len - 1] != '\0')
        return false;
    memcpy(scratch, key + 2, key_len - 2);
    out->pos = pos;
    out->kind = (enum sf_diskpurge_kind)key[0];
    out->soft = key[1] != 0;
    out->text = scratch;
    out->tag_header = scratch + strlen(scratch) + 1;
    if (out->tag_header[0] == '\0')
        out->tag_header = NULL;
    return true;
}
