/* variant: what selects among responses that vary (RFC 9111 §4.1): the names a Vary field
 * lists, the variant a request's values of them select (whitespace normalised; Accept-
 * Language as the language ranges it names, RFC 9110 §12.5.4), the language a request
 * prefers most, and the normalised Accept-Encoding of a shared fetch. Pure, but for the
 * language hash's key (the process's, siphash.h). */
#ifndef SF_VARIANT_H
#define SF_VARIANT_H

#include "base.h"

/* Where the variant part of a cache key starts (RFC 9111 §4.1): a stored response that
 * varies is listed under its request's key followed by this and sf_policy_variant. */
#define SF_VARIANT_MARK "\nvary\n"

/* Reads a request field: all its values joined with ", " (RFC 9110 §5.3), or NULL when
 * absent. Caller frees. */
typedef char *sf_field_get(void *ctx, const char *name);
struct sf_fields {
    sf_field_get *get;
    void *ctx;
};

/* The request fields a response varies on: the names its Vary value (joined; may be
 * NULL) lists, lower-cased, sorted, without duplicates, joined by ","; "*" when it lists
 * "*" (§4.1: never matches); NULL when it lists none. Caller frees. */
char *sf_policy_vary_names(const char *vary);

/* The variant a request selects among responses that vary on names (from
 * sf_policy_vary_names): SF_VARIANT_MARK, then per name "name=value", its value with
 * whitespace normalised (§4.1), or "name!" when absent, separated by newlines. Two
 * requests select the same variant exactly when the strings are equal. Caller frees. */
char *sf_policy_variant(const char *names, const struct sf_fields *f);

/* The language a request's Accept-Language prefers most (RFC 9110 §12.5.4): the range with
 * the highest weight above 0, the first of equals, never "*", lowercased, into out. False
 * when there is none or the value does not parse. */
bool sf_policy_preferred_language(const char *accept_language, char *out, size_t size);
/* Whether two variants (sf_policy_variant's strings, or a key's part from SF_VARIANT_MARK
 * on) select the same values for every field but name. */
bool sf_policy_same_variant_but(const char *a, const char *b, const char *name);

/* Where key (a cache key with SF_VARIANT_MARK, or a variant key a request selects) varies
 * on Accept-Language: a hash (keyed: sf_keyed_hash), into *hash, of the key without its
 * Accept-Language line and of language lowercased (a stored variant's Content-Language, or the language a request
 * prefers most). Two variants of one key that differ in Accept-Language alone, in the same
 * language, hash alike (sf_policy_same_variant_but). False when key has no variant part,
 * its variant does not name Accept-Language, or language is NULL. */
bool sf_policy_language_hash(const char *key, const char *language, uint64_t *hash);

/* The Accept-Encoding a shared fetch sends for a client's (joined; may be NULL) when
 * cache.normalize_accept_encoding is on: which of br, gzip (or x-gzip) and zstd the
 * client accepts with a q above 0 ("*" accepts all three), in that order ("br, gzip"),
 * or NULL: none, the identity. So responses that vary on it come in at most eight
 * variants, not one per client's spelling. */
const char *sf_policy_normalized_encoding(const char *accept_encoding);

#endif
