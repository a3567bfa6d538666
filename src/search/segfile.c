/* Segment files: a sealed segment written once, fsync'd, and memory-mapped when read. The
 * arrays of the in-memory segment are laid out as they are in memory, so opening a segment is
 * a checksum pass and pointer fix-ups, no decoding.
 *
 * File "seg-<base>.ksg", format version 5, little-endian, every section aligned to 8 bytes:
 *
 *   offset  size  field
 *   0       8     magic "KILNSEG1" (the family; the version follows)
 *   8       4     u32 format version (5; 4 is read too, any other is refused with an error
 *                 naming it)
 *   12      4     u32 base (first doc number)
 *   16      4     u32 ndocs (local ids 0..ndocs-1)
 *   20      4     u32 nfields
 *   24      8     u64 post_len   (bytes of doc postings)
 *   32      8     u64 pos_len    (bytes of positions)
 *   40      8     u64 nskips     (skip entries of sizeof(kiln__skip) = 32 bytes)
 *   48      4     u32 has_present (1: a bitset of existing docs follows)
 *   52      4     u32 sizeof(kiln__skip), u32 KILN__TBLOCK at 56 (layout check)
 *   64      ...   present bitset (ceil(ndocs/64) u64) if has_present
 *                 skips, post bytes, pos bytes
 *                 nfields × field:
 *                   u32 path_len | u32 type | u32 flags (1 indexed, 2 positions, 4 norms,
 *                   8 compressed strings, 16 stored: the mapping's store: true) |
 *                   u32 dv_kind (sindex.h: 0 none, 1 i64, 2 f64, 3 ordinals, 4 text originals,
 *                   5 text value counts only) | u32 nterms | u32 doc_count |
 *                   u32 dv_off_from | u32 str_from (field index + 1, 0 = none: see below) |
 *                   u64 sum_ttf | u64 text_len | u64 nvalues | u64 nstr | u64 str_raw_len |
 *                   u64 str_zlen | u64 str_nblocks | u64 tmeta_len     (96 bytes)
 *                   path | term dictionary, absent when nterms is 0 (tdict.c): term
 *                     offsets ((nterms+1) × u32 into the term text), block offsets
 *                     (ceil(nterms / KILN__TBLOCK) × u64 into the metadata), the metadata
 *                     blocks (tmeta_len bytes, the last 8 zero) | term text |
 *                   norms (ndocs bytes, if flag 4) |
 *                   dv off ((ndocs+1) × u32), absent when dv_off_from names an earlier field
 *                     with the same array |
 *                   values (nvalues × 8 for i64/f64, × 4 for ordinals; none for strings) |
 *                   text fields (nstr = nvalues, value v of the column is string v), absent
 *                   when str_from names a keyword field whose ordinals spell the same strings:
 *                     either string offsets into the raw bytes ((nstr+1) × u32) and the raw
 *                     bytes (str_raw_len), or, with flag 8, the block table (str_nblocks ×
 *                     16 bytes: u64 block offset, u32 first value, u32 raw length) and the
 *                     LZ4 blocks (zstd frames in version 4; str_zlen bytes) of ~8 KiB of
 *                     values; a block's raw bytes are the varint length of each of its
 *                     values, then the values.
 *                     A refresh seal keeps text originals raw in memory; this writer compresses
 *                     a raw field of KILN__STR_COMPRESS_MIN bytes or more (flag 8), as a merge
 *                     does, so a file holds the same bytes whichever path made its segment
 *   end-16  8     u64 checksum: xxh3 of every byte before it
 *   end-8   8     magic "KSEGEND1"
 *
 * The commit file "sindex.commit" (replaced atomically) lists the segments:
 *   "KILNSCM1" | u32 committed_upto | u32 nsegs | nsegs × u32 base | u64 checksum */
#include "search/searchInt.h"

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define KILN__SEG_HEADER 64
#define KILN__FIELD_HEADER 96
/* 5: text fields without a column of originals (dv_kind 5, value counts only), the stored
 * flag 16, text original blocks in LZ4 instead of zstd; version 4 files are read too.
 * 4: term metadata in bit-packed blocks, df=1 terms without postings (3: 40-byte term
 * records; 2: 48-byte ones, with ttf and the block count) */
#define KILN__SEG_VERSION 5
#define KILN__SEG_VERSION_MIN 4
#define KILN__FLAG_STR_Z 8
#define KILN__FLAG_STORED 16

/* The file is streamed out section by section, hashed on the way (xxh3's streaming form gives
 * kiln_checksum's value): no copy of the whole segment in a buffer first. Small pieces gather in
 * a staging buffer; large arrays go to write(2) straight from the segment. */
#define KILN__SW_STAGE (1u << 16)

typedef struct kiln__sw {
    int fd, rc;        /* rc: 0 or -errno of the first failed write */
    XXH3_state_t *h;
    uint64_t off;      /* bytes so far */
    size_t n;          /* staged bytes */
    uint8_t stage[KILN__SW_STAGE];
} kiln__sw;

static void kiln__sw_flush(kiln__sw *w)
{
    if (w->n && !w->rc) w->rc = kiln_fs_write_full(w->fd, w->stage, w->n);
    w->n = 0;
}

static void kiln__sw_put(kiln__sw *w, const void *p, size_t n)
{
    if (!n) return;
    XXH3_64bits_update(w->h, p, n);
    w->off += n;
    if (n > KILN__SW_STAGE / 2) {
        kiln__sw_flush(w);
        if (!w->rc) w->rc = kiln_fs_write_full(w->fd, p, n);
        return;
    }
    if (w->n + n > KILN__SW_STAGE) kiln__sw_flush(w);
    memcpy(w->stage + w->n, p, n);
    w->n += n;
}

static void kiln__pad8(kiln__sw *w)
{
    static const char zero[8] = {0};
    if (w->off % 8) kiln__sw_put(w, zero, 8 - w->off % 8);
}

static void kiln__sect(kiln__sw *w, const void *p, size_t n)
{
    kiln__sw_put(w, p, n);
    kiln__pad8(w);
}

static size_t kiln__nvalues(const kiln__sfield *f, uint32_t ndocs)
{
    return f->dv_off ? f->dv_off[ndocs] : 0;
}

static size_t kiln__nstr(const kiln__sfield *f, uint32_t ndocs)
{
    /* string ids are dense 0..nstr-1 in doc order */
    return f->dv.kind == KILN_DV_STR ? kiln__nvalues(f, ndocs) : 0;
}

/* Text originals as the file holds them: a refresh seal keeps them raw in memory; a field
 * with at least KILN__STR_COMPRESS_MIN raw bytes is compressed here, so the files of
 * never-merged segments take no more room than merged ones. */
typedef struct kiln__fstr {
    const kiln__strblock *blocks;
    uint32_t nblocks;
    const uint8_t *z;
    uint64_t zlen;
    void *owned[2]; /* compressed here, freed by kiln__fstr_free */
} kiln__fstr;

static void kiln__fstr_get(const kiln__sfield *f, size_t nstr, kiln__fstr *o)
{
    memset(o, 0, sizeof *o);
    if (f->dv_str_z) {
        o->blocks = f->dv_str_blocks;
        o->nblocks = f->dv_str_nblocks;
        o->z = f->dv_str_z;
        o->zlen = f->dv_str_zlen;
    } else if (nstr && !f->str_from && f->dv_str_off[nstr] >= KILN__STR_COMPRESS_MIN) {
        kiln__strblock *b;
        uint8_t *z;
        kiln__str_compress(f->dv_blob, f->dv_str_off, (uint32_t)nstr, &b, &o->nblocks, &z,
                           &o->zlen);
        KILN_DEBUG("sindex", "segment file: %s: %u raw bytes of text originals compressed to %llu",
                   f->path, f->dv_str_off[nstr], (unsigned long long)o->zlen);
        o->blocks = o->owned[0] = b;
        o->z = o->owned[1] = z;
    }
}

int kiln__segment_raw_strings(const kiln_segment *s)
{
    for (uint32_t i = 0; i < s->nfields; i++) {
        const kiln__sfield *f = &s->fields[i];
        size_t nstr = kiln__nstr(f, s->ndocs);
        if (f->path && nstr && !f->str_from && !f->dv_str_z &&
            f->dv_str_off[nstr] >= KILN__STR_COMPRESS_MIN)
            return 1;
    }
    return 0;
}

static void kiln__fstr_free(kiln__fstr *o)
{
    free(o->owned[0]);
    free(o->owned[1]);
}

int kiln__segment_write(const kiln_segment *s, const char *dir, kiln_error *err)
{
    char path[1200], tmp[1210];
    snprintf(path, sizeof path, "%s/seg-%010u.ksg", dir, s->base);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    kiln__sw *b = kiln_xmalloc(sizeof *b);
    b->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (b->fd < 0) {
        free(b);
        return kiln_fail(err, KILN_E_IO, "create %s: %s", tmp, strerror(errno));
    }
    b->rc = 0;
    b->off = b->n = 0;
    b->h = XXH3_createState();
    if (!b->h) abort();
    XXH3_64bits_reset(b->h);
    uint32_t hdr32[14] = {0};
    kiln__sw_put(b, "KILNSEG1", 8);
    hdr32[0] = KILN__SEG_VERSION;
    hdr32[1] = s->base;
    hdr32[2] = s->ndocs;
    hdr32[3] = s->nfields;
    kiln__sw_put(b, hdr32, 16);
    uint64_t lens[3] = {s->post_len, s->pos_len, s->nskips};
    kiln__sw_put(b, lens, 24);
    uint32_t tail[4] = {s->present != NULL, (uint32_t)sizeof(kiln__skip), KILN__TBLOCK, 0};
    kiln__sw_put(b, tail, 16);
    kiln__pad8(b);
    if (s->present) kiln__sect(b, s->present, ((size_t)s->ndocs + 63) / 64 * 8);
    kiln__sect(b, s->skips, s->nskips * sizeof(kiln__skip));
    kiln__sect(b, s->post, s->post_len);
    kiln__sect(b, s->pos, s->pos_len);
    for (uint32_t i = 0; i < s->nfields; i++) {
        const kiln__sfield *f = &s->fields[i];
        size_t text_len = f->nterms ? f->term_off[f->nterms] : 0;
        size_t nvalues = kiln__nvalues(f, s->ndocs), nstr = kiln__nstr(f, s->ndocs);
        kiln__fstr zs;
        kiln__fstr_get(f, f->path ? nstr : 0, &zs);
        size_t blob = nstr && !zs.z && f->dv_str_off ? f->dv_str_off[nstr] : 0;
        uint32_t h[6] = {f->path ? (uint32_t)strlen(f->path) : 0, (uint32_t)f->type,
                         (uint32_t)((f->indexed ? 1 : 0) | (f->has_pos ? 2 : 0) | (f->norms ? 4 : 0) |
                                    (zs.z ? KILN__FLAG_STR_Z : 0) |
                                    (f->stored ? KILN__FLAG_STORED : 0)),
                         (uint32_t)f->dv.kind, f->nterms, f->doc_count};
        uint64_t h64[8] = {f->sum_ttf, text_len, nvalues,    nstr,
                           blob,       zs.zlen,  zs.nblocks, f->nterms ? f->tmeta_len : 0};
        uint32_t from[2] = {f->dv_off_from, f->str_from};
        kiln__sw_put(b, h, sizeof h);
        kiln__sw_put(b, from, sizeof from);
        kiln__sw_put(b, h64, sizeof h64);
        kiln__pad8(b);
        if (!f->path) continue;
        kiln__sect(b, f->path, h[0]);
        if (f->nterms) {
            kiln__sect(b, f->term_off, ((size_t)f->nterms + 1) * 4);
            kiln__sect(b, f->tblock_off, kiln__tdict_meta_bytes(f) - f->tmeta_len);
            kiln__sect(b, f->tmeta, f->tmeta_len);
        }
        kiln__sect(b, f->text, text_len);
        if (f->norms) kiln__sect(b, f->norms, s->ndocs);
        if (!f->dv_off_from) kiln__sect(b, f->dv_off, ((size_t)s->ndocs + 1) * 4);
        if (f->dv_i64) kiln__sect(b, f->dv_i64, nvalues * 8);
        if (f->dv_f64) kiln__sect(b, f->dv_f64, nvalues * 8);
        if (f->dv_ord) kiln__sect(b, f->dv_ord, nvalues * 4);
        if (nstr && !f->str_from) {
            if (zs.z) {
                kiln__sect(b, zs.blocks, (size_t)zs.nblocks * sizeof(kiln__strblock));
                kiln__sect(b, zs.z, zs.zlen);
            } else {
                kiln__sect(b, f->dv_str_off, (nstr + 1) * 4);
                kiln__sect(b, f->dv_blob, blob);
            }
        }
        kiln__fstr_free(&zs);
    }
    uint64_t sum = XXH3_64bits_digest(b->h);
    kiln__sw_put(b, &sum, 8);
    kiln__sw_put(b, "KSEGEND1", 8);
    kiln__sw_flush(b);
    int fd = b->fd, rc = b->rc;
    XXH3_freeState(b->h);
    free(b);
    return kiln_fs_finish_tmp(fd, rc, tmp, path, err);
}

/* Reader over the mapped bytes: each take returns an aligned section or NULL past the end. */
typedef struct kiln__rd {
    const uint8_t *p;
    size_t off, len;
} kiln__rd;

static const void *kiln__take(kiln__rd *r, size_t n)
{
    if (n > r->len - r->off) return NULL;
    const void *at = r->p + r->off;
    r->off += (n + 7) & ~(size_t)7;
    if (r->off > r->len) r->off = r->len;
    return at;
}

/* Block table of text originals: values and frames in order, each block holding at least a
 * length byte per value (the read checks each value against the raw length). */
static int kiln__str_blocks_valid(const kiln__sfield *f, size_t nstr)
{
    const kiln__strblock *b = f->dv_str_blocks;
    if (!f->dv_str_nblocks || b[0].first != 0 || b[0].zoff != 0) return 0;
    for (uint32_t i = 0; i < f->dv_str_nblocks; i++) {
        uint64_t end_v = i + 1 < f->dv_str_nblocks ? b[i + 1].first : nstr;
        uint64_t end_z = i + 1 < f->dv_str_nblocks ? b[i + 1].zoff : f->dv_str_zlen;
        if (end_v <= b[i].first || end_v > nstr || end_z <= b[i].zoff || end_z > f->dv_str_zlen ||
            end_v - b[i].first > b[i].raw_len)
            return 0;
    }
    return 1;
}

kiln_segment *kiln__segment_open(const char *dir, uint32_t base, kiln_error *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/seg-%010u.ksg", dir, base);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        kiln_fail(err, KILN_E_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) || st.st_size < KILN__SEG_HEADER + 16) {
        close(fd);
        kiln_fail(err, KILN_E_IO, "%s: truncated segment file", path);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    /* populated at once: the checksum below reads every page anyway, and one populate costs
     * far less than a page fault per 4 KiB */
    uint8_t *map = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        kiln_fail(err, KILN_E_IO, "%s: mmap: %s", path, strerror(errno));
        return NULL;
    }
    kiln_segment *s = kiln_xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->map = map;
    s->map_len = len;
    uint64_t sum;
    memcpy(&sum, map + len - 16, 8);
    uint32_t h[14];
    memcpy(h, map + 8, 16);
    uint64_t lens[3];
    memcpy(lens, map + 24, 24);
    uint32_t tail[4];
    memcpy(tail, map + 48, 16);
    if (!memcmp(map, "KILNSEG1", 8) &&
        (h[0] < KILN__SEG_VERSION_MIN || h[0] > KILN__SEG_VERSION)) {
        kiln_fail(err, KILN_E_IO,
                  "%s: segment format version %u, this Kiln reads versions %u to %u: delete the "
                  "index's search directory to rebuild it from the stored documents",
                  path, h[0], KILN__SEG_VERSION_MIN, KILN__SEG_VERSION);
        kiln__segment_unref(s);
        return NULL;
    }
    if (memcmp(map, "KILNSEG1", 8) || memcmp(map + len - 8, "KSEGEND1", 8) ||
        tail[1] != sizeof(kiln__skip) || tail[2] != KILN__TBLOCK ||
        kiln_checksum(map, len - 16) != sum)
        goto corrupt;
    s->base = h[1];
    s->ndocs = h[2];
    s->nfields = h[3];
    s->post_len = lens[0];
    s->pos_len = lens[1];
    s->nskips = lens[2];
    kiln__rd r = {map, KILN__SEG_HEADER, len - 16};
    if (tail[0] && !(s->present = (uint64_t *)kiln__take(&r, ((size_t)s->ndocs + 63) / 64 * 8)))
        goto corrupt;
    s->skips = (kiln__skip *)kiln__take(&r, s->nskips * sizeof(kiln__skip));
    s->post = (uint8_t *)kiln__take(&r, s->post_len);
    s->pos = (uint8_t *)kiln__take(&r, s->pos_len);
    if ((s->nskips && !s->skips) || (s->post_len && !s->post) || (s->pos_len && !s->pos))
        goto corrupt;
    s->fields = kiln_xcalloc(s->nfields ? s->nfields : 1, sizeof *s->fields);
    for (uint32_t i = 0; i < s->nfields; i++) {
        kiln__sfield *f = &s->fields[i];
        const uint8_t *fh = kiln__take(&r, KILN__FIELD_HEADER);
        if (!fh) goto corrupt;
        uint32_t f32[8];
        uint64_t f64[8];
        memcpy(f32, fh, 32);
        memcpy(f64, fh + 32, 64);
        if (!f32[0]) continue; /* a field id unused in this segment */
        const char *p = kiln__take(&r, f32[0]);
        if (!p) goto corrupt;
        f->path = kiln_xstrndup(p, f32[0]); /* owned: the rest points into the map */
        f->type = (kiln_field_type)f32[1];
        f->indexed = f32[2] & 1;
        f->has_pos = !!(f32[2] & 2);
        f->has_norms = !!(f32[2] & 4);
        f->stored = !!(f32[2] & KILN__FLAG_STORED);
        if (f32[3] > KILN_DV_COUNT) goto corrupt;
        f->dv.kind = (kiln_dv_kind)f32[3];
        f->nterms = f32[4];
        f->doc_count = f32[5];
        f->sum_ttf = f64[0];
        size_t text_len = f64[1], nvalues = f64[2], nstr = f64[3], blob = f64[4];
        size_t zlen = f64[5], nblocks = f64[6];
        if (f->nterms) {
            f->term_off = (uint32_t *)kiln__take(&r, ((size_t)f->nterms + 1) * 4);
            f->tblock_off = (uint64_t *)kiln__take(
                &r, ((size_t)f->nterms + KILN__TBLOCK - 1) / KILN__TBLOCK * 8);
            f->tmeta_len = f64[7];
            f->tmeta = (uint8_t *)kiln__take(&r, f->tmeta_len);
            if (!f->term_off || !f->tblock_off || !f->tmeta) goto corrupt;
        } else {
            static const uint32_t no_terms[1] = {0};
            f->term_off = (uint32_t *)no_terms; /* never written through: the map is read-only */
        }
        f->text = (char *)kiln__take(&r, text_len);
        if (f->has_norms && !(f->norms = (uint8_t *)kiln__take(&r, s->ndocs))) goto corrupt;
        f->dv_off_from = f32[6];
        f->str_from = f32[7];
        if (f->dv_off_from) { /* an earlier field's array */
            if (f->dv_off_from > i || !s->fields[f->dv_off_from - 1].dv_off) goto corrupt;
            f->dv_off = s->fields[f->dv_off_from - 1].dv_off;
        } else {
            f->dv_off = (uint32_t *)kiln__take(&r, ((size_t)s->ndocs + 1) * 4);
        }
        if (!f->dv_off || (f->nterms && ((text_len && !f->text) || kiln__tdict_valid(f, text_len, s))))
            goto corrupt;
        if (f->dv_off[s->ndocs] != nvalues) goto corrupt;
        switch (f->dv.kind) {
        case KILN_DV_I64: f->dv_i64 = (int64_t *)kiln__take(&r, nvalues * 8); break;
        case KILN_DV_F64: f->dv_f64 = (double *)kiln__take(&r, nvalues * 8); break;
        case KILN_DV_ORD: f->dv_ord = (uint32_t *)kiln__take(&r, nvalues * 4); break;
        default: break;
        }
        if ((f->dv.kind == KILN_DV_STR) != (nstr != 0 && nstr == nvalues) && nvalues) goto corrupt;
        if (nstr && !f->str_from) {
            if (!(f32[2] & KILN__FLAG_STR_Z)) {
                f->dv_str_off = (uint32_t *)kiln__take(&r, (nstr + 1) * 4);
                if (!f->dv_str_off || f->dv_str_off[nstr] != blob) goto corrupt;
            }
            if (f32[2] & KILN__FLAG_STR_Z) {
                f->dv_str_blocks = (kiln__strblock *)kiln__take(&r, nblocks * sizeof(kiln__strblock));
                f->dv_str_z = (uint8_t *)kiln__take(&r, zlen);
                f->dv_str_zlen = zlen;
                f->dv_str_codec = h[0] >= 5 ? KILN_ZCODEC_LZ4 : KILN_ZCODEC_ZSTD;
                f->dv_str_nblocks = (uint32_t)nblocks;
                if (!f->dv_str_blocks || !f->dv_str_z || !kiln__str_blocks_valid(f, nstr))
                    goto corrupt;
            } else {
                f->dv_blob = (char *)kiln__take(&r, blob);
                if (blob && !f->dv_blob) goto corrupt;
            }
        }
    }
    if (kiln__segment_link(s)) goto corrupt;
    return s;
corrupt:
    kiln_fail(err, KILN_E_IO, "%s: corrupt segment file", path);
    kiln__segment_unref(s);
    return NULL;
}

int kiln__commit_write(const char *dir, uint32_t upto, kiln_segment *const *segs, size_t n,
                       kiln_error *err)
{
    kiln_buf b = KILN_BUF_INIT;
    uint32_t nn = (uint32_t)n;
    kiln_buf_append(&b, "KILNSCM1", 8);
    kiln_buf_append(&b, &upto, 4);
    kiln_buf_append(&b, &nn, 4);
    for (size_t i = 0; i < n; i++) kiln_buf_append(&b, &segs[i]->base, 4);
    uint64_t sum = kiln_checksum(b.data, b.len);
    kiln_buf_append(&b, &sum, 8);
    char path[1200];
    snprintf(path, sizeof path, "%s/sindex.commit", dir);
    int rc = kiln_fs_write_atomic(path, b.data, b.len, err);
    kiln_buf_free(&b);
    return rc;
}

/* Reads the commit file; *bases malloc'd. Missing file: 0 segments, upto 0. */
int kiln__commit_read(const char *dir, uint32_t *upto, uint32_t **bases, size_t *n,
                      kiln_error *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/sindex.commit", dir);
    *upto = 0;
    *bases = NULL;
    *n = 0;
    if (!kiln_fs_exists(path)) return 0;
    char *data;
    size_t len;
    if (kiln_fs_read_all(path, &data, &len, err)) return -1;
    uint32_t nn;
    uint64_t sum;
    if (len < 24 || memcmp(data, "KILNSCM1", 8)) goto corrupt;
    memcpy(&nn, data + 12, 4);
    if (len != 16 + (size_t)nn * 4 + 8) goto corrupt;
    memcpy(&sum, data + len - 8, 8);
    if (kiln_checksum(data, len - 8) != sum) goto corrupt;
    memcpy(upto, data + 8, 4);
    *bases = kiln_xmalloc(((size_t)nn + 1) * 4);
    memcpy(*bases, data + 16, (size_t)nn * 4);
    *n = nn;
    free(data);
    return 0;
corrupt:
    free(data);
    return kiln_fail(err, KILN_E_IO, "%s: corrupt commit file", path);
}

/* ---- size accounting (bench/size) -------------------------------------------------------- */

void kiln__segment_stat(const kiln_segment *s, kiln__stat_fn fn, void *ctx)
{
    fn(ctx, NULL, "header+footer", KILN__SEG_HEADER + 16);
    if (s->present) fn(ctx, NULL, "present bitset", ((size_t)s->ndocs + 63) / 64 * 8);
    fn(ctx, NULL, "skips", s->nskips * sizeof(kiln__skip));
    fn(ctx, NULL, "postings", s->post_len);
    fn(ctx, NULL, "positions", s->pos_len);
    for (uint32_t i = 0; i < s->nfields; i++) {
        const kiln__sfield *f = &s->fields[i];
        fn(ctx, NULL, "field headers", KILN__FIELD_HEADER);
        if (!f->path) continue;
        size_t text_len = f->nterms ? f->term_off[f->nterms] : 0;
        size_t nvalues = kiln__nvalues(f, s->ndocs), nstr = kiln__nstr(f, s->ndocs);
        if (f->nterms) {
            fn(ctx, f->path, "term offsets", ((size_t)f->nterms + 1) * 4);
            fn(ctx, f->path, "term metadata", kiln__tdict_meta_bytes(f));
        }
        fn(ctx, f->path, "term text", text_len);
        if (f->norms) fn(ctx, f->path, "norms", s->ndocs);
        if (!f->dv_off_from) fn(ctx, f->path, "dv offsets", ((size_t)s->ndocs + 1) * 4);
        if (f->dv_i64 || f->dv_f64) fn(ctx, f->path, "dv numbers", nvalues * 8);
        if (f->dv_ord) fn(ctx, f->path, "dv ordinals", nvalues * 4);
        if (nstr && !f->str_from) {
            kiln__fstr zs;
            kiln__fstr_get(f, nstr, &zs);
            if (zs.z) {
                fn(ctx, f->path, "dv string block table", zs.nblocks * sizeof(kiln__strblock));
                fn(ctx, f->path, "dv string bytes (compressed)", zs.zlen);
            } else {
                fn(ctx, f->path, "dv string offsets", (nstr + 1) * 4);
                fn(ctx, f->path, "dv string bytes", f->dv_str_off[nstr]);
            }
            kiln__fstr_free(&zs);
        }
    }
}
