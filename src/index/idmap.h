/* The version map of a shard: _id → current doc number (or a delete tombstone) with the
 * document's _seq_no and _version. Every _id a shard has seen stays (a million ids for a
 * million documents), and an ingest looks up each new one, so it is laid out for that:
 * a table of 8-byte slots (32 bits of the hash, entry number), linear probing, whose misses
 * (the common case: a new _id) mostly end without touching anything else; entries appended
 * in an array; the _id bytes back to back in one buffer, not an allocation each. Not
 * thread-safe (the shard's lock guards it). */
#ifndef KILN_IDMAP_H
#define KILN_IDMAP_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

#define KILN_DOCNUM_NONE UINT32_MAX

typedef struct kiln_idmap_entry {
    uint64_t id_off;   /* where the _id's bytes start in the map's `ids` */
    uint32_t idlen;
    uint32_t docnum;   /* KILN_DOCNUM_NONE: deleted (tombstone keeps seq_no and version) */
    int64_t seq_no;
    int64_t version;
} kiln_idmap_entry;

typedef struct kiln_idmap {
    uint64_t *slots;   /* 0 empty, else hash tag << 32 | (entry index + 1) */
    size_t cap;        /* power of two */
    kiln_idmap_entry *entries;
    size_t count, entries_cap;
    kiln_buf ids;      /* every _id, back to back */
} kiln_idmap;

void kiln_idmap_init(kiln_idmap *m);
void kiln_idmap_dispose(kiln_idmap *m);
/* Borrowed entry for id, NULL if never seen. Valid until the next put or upsert. */
kiln_idmap_entry *kiln_idmap_get(const kiln_idmap *m, const char *id, size_t idlen);
/* The entry for id, added (docnum KILN_DOCNUM_NONE, seq_no -1, version 0) if never seen, with
 * *added telling which; one lookup where get-then-put would do two. Valid until the next call. */
kiln_idmap_entry *kiln_idmap_upsert(kiln_idmap *m, const char *id, size_t idlen, int *added);
/* Inserts or updates id. */
kiln_idmap_entry *kiln_idmap_put(kiln_idmap *m, const char *id, size_t idlen, uint32_t docnum,
                                 int64_t seq_no, int64_t version);
/* The _id of an entry (not NUL-terminated; e->idlen bytes). */
const char *kiln_idmap_id(const kiln_idmap *m, const kiln_idmap_entry *e);

#endif
