#include "index/idmap.h"
#include "core/buf.h"
#include "core/hash.h"

#include <stdlib.h>
#include <string.h>

void kiln_idmap_init(kiln_idmap *m)
{
    memset(m, 0, sizeof *m);
    m->cap = 1024;
    m->slots = kiln_xcalloc(m->cap, sizeof *m->slots);
}

void kiln_idmap_dispose(kiln_idmap *m)
{
    free(m->slots);
    free(m->entries);
    kiln_buf_free(&m->ids);
    memset(m, 0, sizeof *m);
}

/* The slot's tag: the hash's high half, the probe starts from its low bits; never 0 so a used
 * slot never reads as empty. */
static uint32_t kiln__tag(uint64_t h)
{
    uint32_t t = (uint32_t)(h >> 32);
    return t ? t : 1;
}

/* The slot holding id, or the empty slot where it would go. */
static uint64_t *kiln__idmap_find(const kiln_idmap *m, const char *id, size_t idlen, uint32_t tag)
{
    size_t mask = m->cap - 1;
    for (size_t i = tag & mask;; i = (i + 1) & mask) {
        uint64_t s = m->slots[i];
        if (!s) return &m->slots[i];
        if ((uint32_t)(s >> 32) != tag) continue;
        const kiln_idmap_entry *e = &m->entries[(uint32_t)s - 1];
        if (e->idlen == idlen && memcmp(m->ids.data + e->id_off, id, idlen) == 0)
            return &m->slots[i];
    }
}

static void kiln__idmap_grow(kiln_idmap *m)
{
    uint64_t *old = m->slots;
    size_t oldcap = m->cap;
    m->cap *= 2;
    m->slots = kiln_xcalloc(m->cap, sizeof *m->slots);
    size_t mask = m->cap - 1;
    for (size_t i = 0; i < oldcap; i++) { /* tags are distinct enough: no compare needed */
        if (!old[i]) continue;
        size_t k = (old[i] >> 32) & mask;
        while (m->slots[k])
            k = (k + 1) & mask;
        m->slots[k] = old[i];
    }
    free(old);
}

kiln_idmap_entry *kiln_idmap_get(const kiln_idmap *m, const char *id, size_t idlen)
{
    uint64_t s = *kiln__idmap_find(m, id, idlen, kiln__tag(kiln_hash_bytes(id, idlen)));
    return s ? &m->entries[(uint32_t)s - 1] : NULL;
}

kiln_idmap_entry *kiln_idmap_upsert(kiln_idmap *m, const char *id, size_t idlen, int *added)
{
    if ((m->count + 1) * 4 > m->cap * 3) kiln__idmap_grow(m);
    uint32_t tag = kiln__tag(kiln_hash_bytes(id, idlen));
    uint64_t *slot = kiln__idmap_find(m, id, idlen, tag);
    *added = !*slot;
    if (*slot) return &m->entries[(uint32_t)*slot - 1];
    if (m->count == m->entries_cap) {
        m->entries_cap = m->entries_cap ? m->entries_cap * 2 : 1024;
        m->entries = kiln_xrealloc(m->entries, m->entries_cap * sizeof *m->entries);
    }
    kiln_idmap_entry *e = &m->entries[m->count];
    e->id_off = m->ids.len;
    e->idlen = (uint32_t)idlen;
    e->docnum = KILN_DOCNUM_NONE;
    e->seq_no = -1;
    e->version = 0;
    kiln_buf_append(&m->ids, id, idlen);
    *slot = (uint64_t)tag << 32 | (uint64_t)(m->count + 1);
    m->count++;
    return e;
}

kiln_idmap_entry *kiln_idmap_put(kiln_idmap *m, const char *id, size_t idlen, uint32_t docnum,
                                 int64_t seq_no, int64_t version)
{
    int added;
    kiln_idmap_entry *e = kiln_idmap_upsert(m, id, idlen, &added);
    e->docnum = docnum;
    e->seq_no = seq_no;
    e->version = version;
    return e;
}

const char *kiln_idmap_id(const kiln_idmap *m, const kiln_idmap_entry *e)
{
    return m->ids.data + e->id_off;
}
