#include "index/zblock.h"

#include <limits.h>
#include <lz4.h>
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

size_t kiln_zblock_compress(kiln_buf *out, const void *src, size_t n, kiln_zcodec codec)
{
    if (codec == KILN_ZCODEC_LZ4) {
        if (n > LZ4_MAX_INPUT_SIZE) abort(); /* blocks are a few KiB; one document <= 2 GB */
        int bound = LZ4_compressBound((int)n);
        kiln_buf_reserve(out, (size_t)bound);
        int z = LZ4_compress_default(src, out->data + out->len, (int)n, bound);
        if (z <= 0) abort(); /* the bound always suffices */
        out->len += (size_t)z;
        return (size_t)z;
    }
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
                               size_t raw_len, kiln_zcodec codec)
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
    if (!t->dctx && codec == KILN_ZCODEC_ZSTD) t->dctx = ZSTD_createDCtx();
    /* grow for the block; shrink back after an outsized one (a huge document or text value)
     * rather than keep megabytes per thread */
    if (victim->cap < raw_len + 1 || (victim->cap > (1u << 20) && raw_len < (1u << 16))) {
        free(victim->buf);
        victim->cap = raw_len + 1;
        victim->buf = kiln_xmalloc(victim->cap);
    }
    victim->owner = 0;
    if (codec == KILN_ZCODEC_LZ4) {
        if (raw_len > INT_MAX || zlen > INT_MAX) return NULL;
        int got = LZ4_decompress_safe(z, (char *)victim->buf, (int)zlen, (int)raw_len);
        if (got < 0 || (size_t)got != raw_len) return NULL;
    } else {
        size_t got = ZSTD_decompressDCtx(t->dctx, victim->buf, raw_len + 1, z, zlen);
        if (ZSTD_isError(got) || got != raw_len) return NULL;
    }
    victim->owner = owner;
    victim->key = key;
    victim->used = ++t->clock;
    return victim->buf;
}
