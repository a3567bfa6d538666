/* The version map of a shard: _id → current doc number (or a delete tombstone) with the
 * document's _seq_no and _version. Open addressing with linear probing; not thread-safe (the
 * shard's lock guards it). */
#ifndef KILN_IDMAP_H
#define KILN_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#define KILN_DOCNUM_NONE UINT32_MAX

typedef struct kiln_idmap_entry {
    char *id;          /* owned; NULL marks an empty slot */
    uint32_t idlen;
    uint32_t docnum;   /* KILN_DOCNUM_NONE: deleted (tombstone keeps seq_no and version) */
    uint64_t hash;
    int64_t seq_no;
    int64_t version;
} kiln_idmap_entry;

typedef struct kiln_idmap {
    kiln_idmap_entry *slots;
    size_t cap;   /* power of two */
    size_t count;
} kiln_idmap;

void kiln_idmap_init(kiln_idmap *m);
void kiln_idmap_dispose(kiln_idmap *m);
/* Borrowed entry for id, NULL if never seen. Valid until the next kiln_idmap_put. */
kiln_idmap_entry *kiln_idmap_get(const kiln_idmap *m, const char *id, size_t idlen);
/* Inserts or updates id. */
kiln_idmap_entry *kiln_idmap_put(kiln_idmap *m, const char *id, size_t idlen, uint32_t docnum,
                                 int64_t seq_no, int64_t version);

#endif
