/* held: see held.h. */
#include "held.h"

#include <string.h>

#define CHUNK_HEADER 8 /* glibc's size field; the next chunk's prev_size is ours to use */
#define CHUNK_ALIGN 16
#define CHUNK_MIN 32

size_t sf_held_bytes(size_t asked)
{
    size_t chunk = (asked + CHUNK_HEADER + CHUNK_ALIGN - 1) & ~(size_t)(CHUNK_ALIGN - 1);
    return chunk < CHUNK_MIN ? CHUNK_MIN : chunk;
}

size_t sf_held_str(const char *s)
{
    return s != NULL ? sf_held_bytes(strlen(s) + 1) : 0;
}
