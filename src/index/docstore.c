/* Stored documents in zstd blocks (format in docstore.h). */
#include "index/docstore.h"
#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "index/zblock.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define KILN_DOC_HEADER 24
#define KILN_DOC_RECORD 32 /* fixed part of a record */
#define KILN_DOC_FOOTER 24
#define KILN_DOC_BLOCK_ENTRY 16
/* Full blocks waiting for compression past which the writer compresses one itself (nobody else
 * is calling kiln_docstore_compress): ~0.5 MiB of raw records. */
#define KILN__MAX_RAW_BLOCKS 64

typedef struct kiln__dblock { /* a block table entry, as in the file */
    uint64_t zoff;            /* frame offset from the file start (tail: unused) */
    uint32_t first;           /* first doc, as an index in the file (or the tail) */
    uint32_t raw_len;
} kiln__dblock;

typedef struct {
    kiln_docstore_file info;
    const uint8_t *map;
    size_t size;
    const uint8_t *blocks; /* nblocks entries of KILN_DOC_BLOCK_ENTRY bytes */
    uint32_t nblocks;
    uint64_t table_pos; /* end of the last frame */
    kiln_zcodec codec;
} kiln__docfile;

struct kiln_docstore {
    char dir[1024];
    uint64_t owner; /* names this store's blocks in the per-thread cache */
    kiln_zcodec codec; /* of the tail's blocks (each file says its own) */
    kiln__docfile *files;
    size_t nfiles;
    kiln_docstore_file *infos; /* mirror of files[].info for kiln_docstore_files */
    /* the tail: docs from tail_first on, in sealed blocks, then the open block. Sealed blocks
     * are compressed in order, by kiln_docstore_compress on any thread (the _bulk preparers)
     * or by the writer past KILN__MAX_RAW_BLOCKS: blocks [0, nz) hold their zstd frame,
     * blocks [nz, ntail_blocks) still their raw records. A frame in its own allocation, not
     * appended to one growing buffer: no realloc copies of hundreds of MB. zmu guards these
     * fields (the writer holds the shard's write lock, readers its read lock, compressors
     * neither). */
    uint32_t tail_first;
    uint32_t ntail;
    kiln__dblock *tail_blocks;
    kiln_buf *tail_data; /* per tail block: its raw records, then its frame */
    size_t ntail_blocks, tail_blocks_cap, nz, raw_bytes, z_bytes;
    int zbusy; /* a compressor works on block nz */
    /* raw buffers of compressed blocks: freed (or reused as the open block) by the writer
     * only, when no reader can hold a record in them */
    kiln_buf *done_raw;
    size_t ndone_raw, done_raw_cap;
    pthread_mutex_t zmu;
    pthread_cond_t zcv; /* zbusy cleared */
    kiln_buf open;       /* raw records of the open block */
    uint32_t open_first; /* tail index of the open block's first doc */
    uint64_t disk_bytes;
};

static void kiln__file_path(const kiln_docstore *ds, uint32_t first, char *out, size_t cap)
{
    snprintf(out, cap, "%s/docs-%010" PRIu32 ".kdoc", ds->dir, first);
}

static kiln__dblock kiln__file_block(const kiln__docfile *f, uint32_t b)
{
    kiln__dblock e;
    memcpy(&e.zoff, f->blocks + (size_t)b * KILN_DOC_BLOCK_ENTRY, 8);
    memcpy(&e.first, f->blocks + (size_t)b * KILN_DOC_BLOCK_ENTRY + 8, 4);
    memcpy(&e.raw_len, f->blocks + (size_t)b * KILN_DOC_BLOCK_ENTRY + 12, 4);
    return e;
}

/* Checks the block table: frames in order inside the data area, first docs increasing from 0. */
static int kiln__blocks_valid(const kiln__docfile *f)
{
    if (f->info.count && !f->nblocks) return 0;
    uint64_t zoff = KILN_DOC_HEADER;
    for (uint32_t b = 0; b < f->nblocks; b++) {
        kiln__dblock e = kiln__file_block(f, b);
        uint32_t want_first = b ? kiln__file_block(f, b - 1).first + 1 : 0;
        if (e.zoff < zoff || e.zoff >= f->table_pos || (b ? e.first < want_first : e.first != 0) ||
            e.first >= f->info.count || e.raw_len < KILN_DOC_RECORD)
            return 0;
        zoff = e.zoff + 1;
    }
    return 1;
}

static int kiln__map_file(kiln_docstore *ds, kiln_docstore_file info, kiln__docfile *f,
                          kiln_error *err)
{
    char path[1200];
    kiln__file_path(ds, info.first, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kiln_fail(err, KILN_E_IO, "open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return kiln_fail(err, KILN_E_IO, "stat %s: %s", path, strerror(errno));
    }
    size_t size = (size_t)st.st_size;
    if (size < KILN_DOC_HEADER + KILN_DOC_FOOTER) {
        close(fd);
        return kiln_fail(err, KILN_E_IO, "%s: truncated stored-fields file", path);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return kiln_fail(err, KILN_E_IO, "mmap %s: %s", path, strerror(errno));
    const uint8_t *p = map;
    uint64_t table_pos, sum;
    memcpy(&table_pos, p + size - KILN_DOC_FOOTER, 8);
    memcpy(&sum, p + size - 16, 8);
    uint32_t first, count, nblocks, codec;
    memcpy(&first, p + 8, 4);
    memcpy(&count, p + 12, 4);
    memcpy(&nblocks, p + 16, 4);
    memcpy(&codec, p + 20, 4);
    *f = (kiln__docfile){info, p, size, NULL, nblocks, table_pos, (kiln_zcodec)codec};
    const char *why = NULL;
    if (!memcmp(p, "KILNDOC1", 8))
        why = "format 1 (uncompressed), written by an older Kiln; this version reads format 2 "
              "only: re-index the data";
    else if (memcmp(p, "KILNDOC2", 8) || memcmp(p + size - 8, "KDOCEND2", 8))
        why = "bad magic";
    else if (kiln_checksum(p, size - 16) != sum)
        why = "checksum mismatch";
    else if (codec > KILN_ZCODEC_LZ4)
        why = "unknown compression codec";
    else if (first != info.first || count != info.count || table_pos < KILN_DOC_HEADER ||
             table_pos + (uint64_t)nblocks * KILN_DOC_BLOCK_ENTRY != size - KILN_DOC_FOOTER)
        why = "header does not match the commit point";
    else {
        f->blocks = p + table_pos;
        if (!kiln__blocks_valid(f)) why = "bad block table";
    }
    if (why) {
        munmap(map, size);
        return kiln_fail(err, KILN_E_IO, "%s: corrupt stored-fields file (%s)", path, why);
    }
    ds->disk_bytes += size;
    return 0;
}

kiln_docstore *kiln_docstore_open(const char *dir, const kiln_docstore_file *files, size_t n,
                                  kiln_zcodec codec, kiln_error *err)
{
    kiln_docstore *ds = kiln_xcalloc(1, sizeof *ds);
    snprintf(ds->dir, sizeof ds->dir, "%s", dir);
    ds->owner = kiln_zblock_owner_new();
    ds->codec = codec;
    pthread_mutex_init(&ds->zmu, NULL);
    pthread_cond_init(&ds->zcv, NULL);
    if (kiln_fs_mkdirs(dir, err)) goto fail;
    ds->files = kiln_xcalloc(n ? n : 1, sizeof *ds->files);
    ds->infos = kiln_xcalloc(n ? n : 1, sizeof *ds->infos);
    for (size_t i = 0; i < n; i++) {
        if (kiln__map_file(ds, files[i], &ds->files[i], err)) goto fail;
        ds->infos[i] = files[i];
        ds->nfiles++;
        ds->tail_first = files[i].first + files[i].count;
    }
    return ds;
fail:
    kiln_docstore_close(ds);
    return NULL;
}

static void kiln__done_raw_free(kiln_docstore *ds)
{
    for (size_t i = 0; i < ds->ndone_raw; i++)
        kiln_buf_free(&ds->done_raw[i]);
    ds->ndone_raw = 0;
}

/* After a flush compressed every block (no compressor is running). */
static void kiln__tail_reset(kiln_docstore *ds)
{
    /* the tail can reach hundreds of MB: give the memory back rather than keep the capacity */
    ds->ntail = 0;
    ds->open_first = 0;
    for (size_t i = 0; i < ds->ntail_blocks; i++)
        kiln_buf_free(&ds->tail_data[i]);
    ds->ntail_blocks = ds->tail_blocks_cap = ds->nz = ds->raw_bytes = ds->z_bytes = 0;
    free(ds->tail_blocks);
    free(ds->tail_data);
    ds->tail_blocks = NULL;
    ds->tail_data = NULL;
    kiln__done_raw_free(ds);
    kiln_buf_reset(&ds->open);
}

void kiln_docstore_close(kiln_docstore *ds)
{
    if (!ds) return;
    for (size_t i = 0; i < ds->nfiles; i++)
        munmap((void *)ds->files[i].map, ds->files[i].size);
    for (size_t i = 0; i < ds->ntail_blocks; i++)
        kiln_buf_free(&ds->tail_data[i]);
    free(ds->tail_data);
    kiln__done_raw_free(ds);
    free(ds->done_raw);
    free(ds->tail_blocks);
    kiln_buf_free(&ds->open);
    free(ds->files);
    free(ds->infos);
    pthread_cond_destroy(&ds->zcv);
    pthread_mutex_destroy(&ds->zmu);
    free(ds);
}

uint32_t kiln_docstore_next(const kiln_docstore *ds)
{
    return ds->tail_first + ds->ntail;
}

int kiln_docstore_compress(kiln_docstore *ds)
{
    pthread_mutex_lock(&ds->zmu);
    if (ds->zbusy || ds->nz == ds->ntail_blocks) {
        pthread_mutex_unlock(&ds->zmu);
        return 0;
    }
    ds->zbusy = 1;
    size_t b = ds->nz;
    /* the raw bytes stay put while zbusy: only the array of their descriptors may move */
    const char *raw = ds->tail_data[b].data;
    uint32_t raw_len = ds->tail_blocks[b].raw_len;
    pthread_mutex_unlock(&ds->zmu);

    kiln_buf z = KILN_BUF_INIT;
    kiln_zblock_compress(&z, raw, raw_len, ds->codec);
    z.data = kiln_xrealloc(z.data, z.len + 1); /* it had room for the worst case: ~3x */
    z.cap = z.len + 1;

    pthread_mutex_lock(&ds->zmu);
    if (ds->ndone_raw == ds->done_raw_cap) {
        ds->done_raw_cap = ds->done_raw_cap ? ds->done_raw_cap * 2 : 16;
        ds->done_raw = kiln_xrealloc(ds->done_raw, ds->done_raw_cap * sizeof *ds->done_raw);
    }
    ds->done_raw[ds->ndone_raw++] = ds->tail_data[b];
    ds->tail_data[b] = z;
    ds->raw_bytes -= raw_len;
    ds->z_bytes += z.len;
    ds->nz++;
    ds->zbusy = 0;
    pthread_cond_broadcast(&ds->zcv);
    pthread_mutex_unlock(&ds->zmu);
    return 1;
}

/* Moves the open block to the tail's sealed blocks, to be compressed (the writer's, with the
 * shard's write lock held). */
static void kiln__seal_open(kiln_docstore *ds)
{
    if (ds->open.len == 0) return;
    pthread_mutex_lock(&ds->zmu);
    if (ds->ntail_blocks == ds->tail_blocks_cap) {
        ds->tail_blocks_cap = ds->tail_blocks_cap ? ds->tail_blocks_cap * 2 : 256;
        ds->tail_blocks =
            kiln_xrealloc(ds->tail_blocks, ds->tail_blocks_cap * sizeof *ds->tail_blocks);
        ds->tail_data = kiln_xrealloc(ds->tail_data, ds->tail_blocks_cap * sizeof *ds->tail_data);
    }
    ds->tail_blocks[ds->ntail_blocks] = (kiln__dblock){0, ds->open_first, (uint32_t)ds->open.len};
    ds->tail_data[ds->ntail_blocks++] = ds->open;
    ds->raw_bytes += ds->open.len;
    /* the next open block reuses a compressed block's raw buffer: no reader holds records in
     * it, they hold the shard's read lock and we its write lock */
    ds->open = (kiln_buf)KILN_BUF_INIT;
    if (ds->ndone_raw) {
        ds->open = ds->done_raw[--ds->ndone_raw];
        kiln_buf_reset(&ds->open);
    }
    kiln__done_raw_free(ds);
    size_t raw = ds->ntail_blocks - ds->nz;
    pthread_mutex_unlock(&ds->zmu);
    ds->open_first = ds->ntail;
    if (raw > KILN__MAX_RAW_BLOCKS) kiln_docstore_compress(ds);
}

void kiln_docstore_add(kiln_docstore *ds, const kiln_stored_doc *doc)
{
    ds->ntail++;
    uint32_t lens[2] = {(uint32_t)doc->idlen, (uint32_t)doc->srclen};
    kiln_buf_reserve(&ds->open, KILN_DOC_RECORD + doc->idlen + doc->srclen);
    kiln_buf_append(&ds->open, &doc->seq_no, 8);
    kiln_buf_append(&ds->open, &doc->version, 8);
    kiln_buf_append(&ds->open, &doc->primary_term, 8);
    kiln_buf_append(&ds->open, lens, 8);
    kiln_buf_append(&ds->open, doc->id, doc->idlen);
    kiln_buf_append(&ds->open, doc->src, doc->srclen);
    if (ds->open.len >= KILN_DOC_BLOCK) kiln__seal_open(ds);
}

/* Fills out from record k of a block's raw bytes, found by walking the records before it (a
 * block holds a dozen product documents: cheaper than an offset table of 4 bytes per doc);
 * -1 if the records do not fit (corrupt). */
static int kiln__record(const uint8_t *raw, size_t raw_len, uint32_t k, kiln_stored_doc *out)
{
    if (!raw) return -1;
    size_t off = 0;
    uint32_t idlen, srclen;
    for (;; k--) {
        if (raw_len - off < KILN_DOC_RECORD) return -1;
        memcpy(&idlen, raw + off + 24, 4);
        memcpy(&srclen, raw + off + 28, 4);
        if (!k) break;
        if ((uint64_t)idlen + srclen > raw_len - off - KILN_DOC_RECORD) return -1;
        off += KILN_DOC_RECORD + (size_t)idlen + srclen;
    }
    const uint8_t *r = raw + off;
    memcpy(&out->seq_no, r, 8);
    memcpy(&out->version, r + 8, 8);
    memcpy(&out->primary_term, r + 16, 8);
    if ((uint64_t)idlen + srclen > raw_len - off - KILN_DOC_RECORD) return -1;
    out->id = (const char *)r + KILN_DOC_RECORD;
    out->idlen = idlen;
    out->src = out->id + idlen;
    out->srclen = srclen;
    return 0;
}

/* Last block whose first doc is <= i (blocks sorted by first doc). */
static size_t kiln__block_of(const kiln__dblock *tail, const kiln__docfile *f, size_t n, uint32_t i)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t first = tail ? tail[mid].first : kiln__file_block(f, (uint32_t)mid).first;
        if (first <= i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

static int kiln__tail_get(const kiln_docstore *ds, uint32_t i, kiln_stored_doc *out)
{
    if (i >= ds->open_first)
        return kiln__record((const uint8_t *)ds->open.data, ds->open.len, i - ds->open_first, out);
    kiln_docstore *mds = (kiln_docstore *)ds; /* zmu: compressors change the tail meanwhile */
    pthread_mutex_lock(&mds->zmu);
    size_t b = kiln__block_of(ds->tail_blocks, NULL, ds->ntail_blocks, i);
    const kiln__dblock *e = &ds->tail_blocks[b];
    const uint8_t *raw;
    if (b >= ds->nz) /* not compressed yet: its bytes stay until the writer's next block */
        raw = (const uint8_t *)ds->tail_data[b].data;
    else {
        raw = kiln_zblock_get(ds->owner, ds->tail_first + e->first, ds->tail_data[b].data,
                              ds->tail_data[b].len, e->raw_len, ds->codec);
    }
    int rc = kiln__record(raw, e->raw_len, i - e->first, out);
    pthread_mutex_unlock(&mds->zmu);
    return rc;
}

int kiln_docstore_get(const kiln_docstore *ds, uint32_t docnum, kiln_stored_doc *out)
{
    if (docnum >= ds->tail_first) {
        uint32_t i = docnum - ds->tail_first;
        return i < ds->ntail ? kiln__tail_get(ds, i, out) : -1;
    }
    size_t lo = 0, hi = ds->nfiles;
    while (lo < hi) { /* last file with first <= docnum */
        size_t mid = (lo + hi) / 2;
        if (ds->files[mid].info.first <= docnum)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return -1;
    const kiln__docfile *f = &ds->files[lo - 1];
    uint32_t i = docnum - f->info.first;
    if (i >= f->info.count) return -1;
    size_t b = kiln__block_of(NULL, f, f->nblocks, i);
    kiln__dblock e = kiln__file_block(f, (uint32_t)b);
    uint64_t end = b + 1 < f->nblocks ? kiln__file_block(f, (uint32_t)b + 1).zoff : f->table_pos;
    const uint8_t *raw = kiln_zblock_get(ds->owner, f->info.first + e.first, f->map + e.zoff,
                                         end - e.zoff, e.raw_len, f->codec);
    return kiln__record(raw, e.raw_len, i - e.first, out);
}

void kiln_docstore_flush_begin(kiln_docstore *ds, kiln_docstore_flush_job *j)
{
    kiln__seal_open(ds);
    pthread_mutex_lock(&ds->zmu);
    *j = (kiln_docstore_flush_job){ds->tail_first, ds->ntail, (uint32_t)ds->ntail_blocks};
    pthread_mutex_unlock(&ds->zmu);
}

int kiln_docstore_flush_write(kiln_docstore *ds, const kiln_docstore_flush_job *j, kiln_error *err)
{
    if (j->count == 0) return 0;
    for (;;) { /* the job's blocks compressed (later ones may still be raw) */
        pthread_mutex_lock(&ds->zmu);
        while (ds->zbusy && ds->nz < j->nblocks)
            pthread_cond_wait(&ds->zcv, &ds->zmu);
        int done = ds->nz >= j->nblocks;
        pthread_mutex_unlock(&ds->zmu);
        if (done) break;
        kiln_docstore_compress(ds);
    }
    /* header, the frames where they are, block table, footer: no copy into one buffer */
    uint32_t n = j->nblocks;
    struct iovec *iov = kiln_xmalloc(((size_t)n + 4) * sizeof *iov);
    uint8_t *table = kiln_xmalloc((size_t)n * KILN_DOC_BLOCK_ENTRY + 1);
    uint8_t head[KILN_DOC_HEADER], foot[KILN_DOC_FOOTER];
    uint32_t h[4] = {j->first, j->count, n, (uint32_t)ds->codec};
    memcpy(head, "KILNDOC2", 8);
    memcpy(head + 8, h, sizeof h);
    iov[0] = (struct iovec){head, sizeof head};
    uint64_t off = sizeof head;
    pthread_mutex_lock(&ds->zmu); /* the writer may move the arrays (not the frames) meanwhile */
    for (uint32_t i = 0; i < n; i++) {
        kiln__dblock e = ds->tail_blocks[i];
        iov[1 + i] = (struct iovec){ds->tail_data[i].data, ds->tail_data[i].len};
        memcpy(table + (size_t)i * KILN_DOC_BLOCK_ENTRY, &off, 8);
        memcpy(table + (size_t)i * KILN_DOC_BLOCK_ENTRY + 8, &e.first, 4);
        memcpy(table + (size_t)i * KILN_DOC_BLOCK_ENTRY + 12, &e.raw_len, 4);
        off += ds->tail_data[i].len;
    }
    pthread_mutex_unlock(&ds->zmu);
    iov[1 + n] = (struct iovec){table, (size_t)n * KILN_DOC_BLOCK_ENTRY};
    memcpy(foot, &off, 8); /* the table starts where the frames end */
    iov[2 + n] = (struct iovec){foot, 8};
    uint64_t sum = kiln_checksum_v(iov, (size_t)n + 3); /* of every byte before it */
    memcpy(foot + 8, &sum, 8);
    memcpy(foot + 16, "KDOCEND2", 8);
    iov[2 + n] = (struct iovec){foot, sizeof foot};
    char path[1200];
    kiln__file_path(ds, j->first, path, sizeof path);
    int rc = kiln_fs_write_atomic_v(path, iov, (size_t)n + 3, err);
    free(iov);
    free(table);
    return rc;
}

int kiln_docstore_flush_end(kiln_docstore *ds, const kiln_docstore_flush_job *j, kiln_error *err)
{
    if (j->count == 0) return 0;
    kiln__docfile f;
    kiln_docstore_file info = {j->first, j->count};
    if (kiln__map_file(ds, info, &f, err)) return -1;
    ds->files = kiln_xrealloc(ds->files, (ds->nfiles + 1) * sizeof *ds->files);
    ds->infos = kiln_xrealloc(ds->infos, (ds->nfiles + 1) * sizeof *ds->infos);
    ds->files[ds->nfiles] = f;
    ds->infos[ds->nfiles] = info;
    ds->nfiles++;
    /* the file holds the job's docs now: drop them from the tail, renumber what came after */
    pthread_mutex_lock(&ds->zmu);
    while (ds->zbusy) /* a compressor holds an index into the arrays */
        pthread_cond_wait(&ds->zcv, &ds->zmu);
    size_t n = j->nblocks;
    for (size_t i = 0; i < n; i++) {
        ds->z_bytes -= ds->tail_data[i].len;
        kiln_buf_free(&ds->tail_data[i]);
    }
    ds->ntail_blocks -= n;
    ds->nz -= n;
    memmove(ds->tail_blocks, ds->tail_blocks + n, ds->ntail_blocks * sizeof *ds->tail_blocks);
    memmove(ds->tail_data, ds->tail_data + n, ds->ntail_blocks * sizeof *ds->tail_data);
    for (size_t i = 0; i < ds->ntail_blocks; i++)
        ds->tail_blocks[i].first -= j->count;
    ds->tail_first = j->first + j->count;
    ds->ntail -= j->count;
    ds->open_first -= j->count;
    if (ds->ntail_blocks == 0 && ds->ntail == 0) kiln__tail_reset(ds); /* memory back */
    pthread_mutex_unlock(&ds->zmu);
    return 0;
}

int kiln_docstore_flush(kiln_docstore *ds, kiln_error *err)
{
    if (ds->ntail == 0) return 0;
    kiln_docstore_flush_job j;
    kiln_docstore_flush_begin(ds, &j);
    if (kiln_docstore_flush_write(ds, &j, err)) return -1;
    return kiln_docstore_flush_end(ds, &j, err);
}

const kiln_docstore_file *kiln_docstore_files(const kiln_docstore *ds, size_t *n)
{
    *n = ds->nfiles;
    return ds->infos;
}

size_t kiln_docstore_tail_bytes(const kiln_docstore *ds)
{
    kiln_docstore *mds = (kiln_docstore *)ds;
    pthread_mutex_lock(&mds->zmu);
    size_t n = ds->z_bytes + ds->raw_bytes + ds->open.len +
               ds->ntail_blocks * (sizeof(kiln__dblock) + sizeof(kiln_buf));
    pthread_mutex_unlock(&mds->zmu);
    return n;
}

uint64_t kiln_docstore_disk_bytes(const kiln_docstore *ds)
{
    return ds->disk_bytes;
}
