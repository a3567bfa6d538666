#include "index/zblock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <zstd.h>

/* Two entries: a UDF reading a text field and a fetch of _source on the same thread do not
 * evict each other, and a value stays valid across one more call. */
#define KILN__ZCACHE 2

typedef struct kiln__zentry {
    uint64_t owner, key; /* owner 0: empty */
    uint8_t *buf;
    size_t cap;
    uint64_t used; /* LRU clock */
} kiln__zentry;

typedef struct kiln__zthread {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    kiln__zentry e[KILN__ZCACHE];
    uint64_t clock;
} kiln__zthread;

static pthread_key_t kiln__zkey;
static pthread_once_t kiln__zonce = PTHREAD_ONCE_INIT;
static _Atomic uint64_t kiln__zowner;

static void kiln__zthread_free(void *p)
{
    kiln__zthread *t = p;
    ZSTD_freeCCtx(t->cctx);
    ZSTD_freeDCtx(t->dctx);
    for (int i = 0; i < KILN__ZCACHE; i++)
        free(t->e[i].buf);
    free(t);
}

static void kiln__zkey_init(void)
{
    pthread_key_create(&kiln__zkey, kiln__zthread_free);
}

static kiln__zthread *kiln__zthread_get(void)
{
    pthread_once(&kiln__zonce, kiln__zkey_init);
    kiln__zthread *t = pthread_getspecific(kiln__zkey);
    if (!t) {
        t = kiln_xcalloc(1, sizeof *t);
        pthread_setspecific(kiln__zkey, t);
    }
    return t;
}

uint64_t kiln_zblock_owner_new(void)
{
    return atomic_fetch_add(&kiln__zowner, 1) + 1;
}

size_t kiln_zblock_compress(kiln_buf *out, const void *src, size_t n)
{
    kiln__zthread *t = kiln__zthread_get();
    if (!t->cctx) t->cctx = ZSTD_createCCtx();
    size_t bound = ZSTD_compressBound(n);
    kiln_buf_reserve(out, bound);
    size_t z = ZSTD_compressCCtx(t->cctx, out->data + out->len, bound, src, n, KILN_ZBLOCK_LEVEL);
    if (ZSTD_isError(z)) abort(); /* only on allocation failure: the bound always suffices */
    out->len += z;
    return z;
}

const uint8_t *kiln_zblock_get(uint64_t owner, uint64_t key, const void *z, size_t zlen,
                               size_t raw_len)
{
    kiln__zthread *t = kiln__zthread_get();
    kiln__zentry *victim = &t->e[0];
    for (int i = 0; i < KILN__ZCACHE; i++) {
        kiln__zentry *e = &t->e[i];
        if (e->owner == owner && e->key == key) {
            e->used = ++t->clock;
            return e->buf;
        }
        if (e->used < victim->used) victim = e;
    }
    if (!t->dctx) t->dctx = ZSTD_createDCtx();
    /* grow for the block; shrink back after an outsized one (a huge document or text value)
     * rather than keep megabytes per thread */
    if (victim->cap < raw_len + 1 || (victim->cap > (1u << 20) && raw_len < (1u << 16))) {
        free(victim->buf);
        victim->cap = raw_len + 1;
        victim->buf = kiln_xmalloc(victim->cap);
    }
    victim->owner = 0;
    size_t got = ZSTD_decompressDCtx(t->dctx, victim->buf, raw_len + 1, z, zlen);
    if (ZSTD_isError(got) || got != raw_len) return NULL;
    victim->owner = owner;
    victim->key = key;
    victim->used = ++t->clock;
    return victim->buf;
}
