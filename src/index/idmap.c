#include "index/idmap.h"
#include "core/buf.h"
#include "core/hash.h"

#include <stdlib.h>
#include <string.h>

void kiln_idmap_init(kiln_idmap *m)
{
    m->cap = 1024;
    m->count = 0;
    m->slots = kiln_xcalloc(m->cap, sizeof *m->slots);
}

void kiln_idmap_dispose(kiln_idmap *m)
{
    for (size_t i = 0; i < m->cap; i++) free(m->slots[i].id);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static kiln_idmap_entry *kiln__idmap_find(const kiln_idmap *m, const char *id, size_t idlen,
                                          uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        kiln_idmap_entry *e = &m->slots[i];
        if (!e->id) return e;
        if (e->hash == h && e->idlen == idlen && memcmp(e->id, id, idlen) == 0) return e;
    }
}

static void kiln__idmap_grow(kiln_idmap *m)
{
    kiln_idmap old = *m;
    m->cap *= 2;
    m->slots = kiln_xcalloc(m->cap, sizeof *m->slots);
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.slots[i].id) continue;
        *kiln__idmap_find(m, old.slots[i].id, old.slots[i].idlen, old.slots[i].hash) =
            old.slots[i];
    }
    free(old.slots);
}

kiln_idmap_entry *kiln_idmap_get(const kiln_idmap *m, const char *id, size_t idlen)
{
    kiln_idmap_entry *e = kiln__idmap_find(m, id, idlen, kiln_hash_bytes(id, idlen));
    return e->id ? e : NULL;
}

kiln_idmap_entry *kiln_idmap_put(kiln_idmap *m, const char *id, size_t idlen, uint32_t docnum,
                                 int64_t seq_no, int64_t version)
{
    if ((m->count + 1) * 4 > m->cap * 3) kiln__idmap_grow(m);
    uint64_t h = kiln_hash_bytes(id, idlen);
    kiln_idmap_entry *e = kiln__idmap_find(m, id, idlen, h);
    if (!e->id) {
        e->id = kiln_xstrndup(id, idlen);
        e->idlen = (uint32_t)idlen;
        e->hash = h;
        m->count++;
    }
    e->docnum = docnum;
    e->seq_no = seq_no;
    e->version = version;
    return e;
}
