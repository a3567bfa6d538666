/* Private structures of the search module: the write buffer, sealed segments, varints. */
#ifndef KILN_SEARCH_INT_H
#define KILN_SEARCH_INT_H

#include "index/zblock.h"
#include "search/sindex.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define KILN__BLOCK 128 /* docs per postings block (skip entry, score bound) */
#define KILN__POS_GAP 100 /* position gap between values of a multi-valued field, as in ES */
#define KILN__IMPACTS 4   /* competitive (tf, norm) pairs kept per postings block */
#define KILN__PACK_PAD 8  /* zero bytes after the postings: kiln__unpack reads 8 at a time */

/* ---- varints ---------------------------------------------------------------------------- */

static inline uint8_t *kiln__put_vu32(uint8_t *p, uint32_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Reads one varint of at most max_bytes (<= 10) below end; NULL past it or when longer. For
 * bytes read from files, where a varint may be cut short or overlong. */
static inline const uint8_t *kiln__get_varint_in(const uint8_t *p, const uint8_t *end,
                                                 unsigned max_bytes, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; p < end && shift < 7 * max_bytes; shift += 7) {
        uint8_t b = *p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            return p;
        }
    }
    return NULL;
}

static inline const uint8_t *kiln__get_vu32(const uint8_t *p, uint32_t *v)
{
    uint32_t x = *p++;
    if (x < 0x80) {
        *v = x;
        return p;
    }
    x &= 0x7f;
    unsigned shift = 7;
    for (;;) {
        uint32_t b = *p++;
        x |= (b & 0x7f) << shift;
        if (b < 0x80) break;
        shift += 7;
    }
    *v = x;
    return p;
}

/* ---- bit packing of full postings blocks ------------------------------------------------------
 * KILN__BLOCK values of w bits (0..32) take exactly 16 × w bytes, least significant bits
 * first. The reader loads 8 bytes at a time, so a buffer of packed data has 8 bytes of padding
 * after its end (the segment's postings end with them). */

static inline unsigned kiln__bits(uint32_t v)
{
    return v ? 32 - (unsigned)__builtin_clz(v) : 0;
}

/* Packs n values into out ((n × w + 7) / 8 bytes, w >= bits of every value), little-endian bit
 * order. The bits gather in a 64-bit word that is stored 4 bytes at a time (fewer than 32 bits
 * wait in it, so a value of up to 32 bits always fits): a refresh seal packs every postings
 * block, and a byte-at-a-time loop was 15% of the seal's instructions. */
static inline void kiln__pack_n(uint8_t *out, const uint32_t *v, size_t n, unsigned w)
{
    uint64_t acc = 0;
    unsigned have = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= (uint64_t)v[i] << have;
        have += w;
        if (have >= 32) {
            uint32_t lo = (uint32_t)acc;
            memcpy(out, &lo, 4);
            out += 4;
            acc >>= 32;
            have -= 32;
        }
    }
    for (; have; acc >>= 8, have = have > 8 ? have - 8 : 0) *out++ = (uint8_t)acc;
}

/* Packs KILN__BLOCK values into out (16 × w bytes). */
static inline void kiln__pack(uint8_t *out, const uint32_t *v, unsigned w)
{
    kiln__pack_n(out, v, KILN__BLOCK, w);
}

/* Value i of values packed with width w (0..32). */
static inline uint32_t kiln__unpack_at(const uint8_t *in, size_t i, unsigned w)
{
    if (w == 0) return 0;
    uint64_t x;
    size_t bit = i * w;
    memcpy(&x, in + (bit >> 3), 8);
    return (uint32_t)((x >> (bit & 7)) & ((1ull << w) - 1));
}

static inline void kiln__unpack(const uint8_t *in, uint32_t *v, unsigned w)
{
    if (w == 0) {
        memset(v, 0, KILN__BLOCK * sizeof *v);
        return;
    }
    uint64_t mask = (1ull << w) - 1;
    for (unsigned i = 0, bit = 0; i < KILN__BLOCK; i++, bit += w) {
        uint64_t x;
        memcpy(&x, in + (bit >> 3), 8);
        v[i] = (uint32_t)((x >> (bit & 7)) & mask);
    }
}

/* A growable byte vector (small header: many of them exist, one per term). */
typedef struct kiln__bytes {
    uint8_t *p;
    uint32_t len, cap;
} kiln__bytes;

void kiln__bytes_grow(kiln__bytes *b, uint32_t extra);
static inline void kiln__bytes_vu32(kiln__bytes *b, uint32_t v)
{
    if (b->len + 5 > b->cap) kiln__bytes_grow(b, 5);
    b->len = (uint32_t)(kiln__put_vu32(b->p + b->len, v) - b->p);
}

/* ---- byte-slice pool -------------------------------------------------------------------------
 * Buffered postings of all terms share one pool of 1 MiB blocks, as Lucene's ByteBlockPool: a
 * term's stream is a chain of slices of growing size (16 B .. 4 KiB), each ending with the
 * 4-byte address of the next. No malloc or copy per term as postings grow, and the blocks are
 * reused after each refresh. An address is block << 20 | offset. */
#define KILN__POOL_SHIFT 20
#define KILN__POOL_BLOCK (1u << KILN__POOL_SHIFT)

typedef struct kiln__pool {
    uint8_t **blocks;
    uint32_t nblocks, cap_blocks;
    uint32_t cur;     /* block being filled */
    uint32_t off;     /* next free byte in it */
} kiln__pool;

typedef struct kiln__slice { /* a term's write cursor; head == 0: empty */
    uint32_t head, wr, wend;
    uint8_t level;
} kiln__slice;

void kiln__pool_init(kiln__pool *p);
void kiln__pool_reset(kiln__pool *p);
void kiln__pool_free(kiln__pool *p);
void kiln__slice_byte_slow(kiln__pool *p, kiln__slice *s, uint8_t b);

static inline uint8_t *kiln__pool_at(const kiln__pool *p, uint32_t addr)
{
    return p->blocks[addr >> KILN__POOL_SHIFT] + (addr & (KILN__POOL_BLOCK - 1));
}

static inline void kiln__slice_byte(kiln__pool *p, kiln__slice *s, uint8_t b)
{
    if (s->wr != s->wend) {
        *kiln__pool_at(p, s->wr++) = b;
        return;
    }
    kiln__slice_byte_slow(p, s, b);
}

static inline void kiln__slice_vu32(kiln__pool *p, kiln__slice *s, uint32_t v)
{
    while (v >= 0x80) {
        kiln__slice_byte(p, s, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    kiln__slice_byte(p, s, (uint8_t)v);
}

/* Reads a chain back. */
typedef struct kiln__slice_rd {
    const kiln__pool *p;
    uint32_t at, end;
    uint8_t level;
} kiln__slice_rd;

void kiln__slice_rd_init(kiln__slice_rd *r, const kiln__pool *p, const kiln__slice *s);
uint8_t kiln__slice_rd_next_slice(kiln__slice_rd *r);

static inline uint8_t kiln__slice_rd_byte(kiln__slice_rd *r)
{
    if (r->at == r->end) return kiln__slice_rd_next_slice(r);
    return *kiln__pool_at(r->p, r->at++);
}

static inline uint32_t kiln__slice_rd_vu32(kiln__slice_rd *r)
{
    uint32_t b = kiln__slice_rd_byte(r), x = b & 0x7f;
    for (unsigned shift = 7; b & 0x80; shift += 7) {
        b = kiln__slice_rd_byte(r);
        x |= (b & 0x7f) << shift;
    }
    return x;
}

/* ---- Lucene's norm encoding (SmallFloat.intToByte4) ---------------------------------------- */

uint8_t kiln__norm_encode(uint32_t len);
uint32_t kiln__norm_decode(uint8_t b);

/* ---- sealed segment ----------------------------------------------------------------------- */

typedef struct kiln__skip { /* one per postings block of KILN__BLOCK docs */
    uint32_t last_doc;
    uint32_t doc_off; /* byte offset of the block inside the term's doc postings */
    uint32_t pos_off; /* byte offset of the block's positions inside the term's positions */
    uint16_t max_tf;  /* score bound inputs: BM25 grows with tf and shrinks with length, so */
    uint8_t min_norm; /* (max_tf, min_norm) bounds every doc of the block */
    uint8_t ndocs;    /* docs in the block minus one */
    /* Tighter: the block's competitive impacts (Lucene's term of art): the pareto frontier of
     * (tf, norm) pairs, merged down to KILN__IMPACTS pairs; each doc of the block is dominated
     * by one of them, so the block's score bound is the best score among them. */
    uint16_t imp_tf[KILN__IMPACTS];
    uint8_t imp_norm[KILN__IMPACTS];
    uint8_t nimp;
} kiln__skip;

/* A term's metadata, decoded from its block of the term dictionary (kiln__term_meta). */
typedef struct kiln__sterm {
    uint32_t df;
    uint32_t skip_idx; /* first skip entry in segment skips; a term of one block has no skip
                          entry (most terms: 32 bytes each saved) and this is its last doc */
    uint64_t post_off; /* into segment post */
    uint64_t pos_off;  /* into segment pos */
    uint16_t max_tf;   /* capped at 65535 */
    uint8_t min_norm;
} kiln__sterm;

/* Blocks of KILN__BLOCK docs in a term's postings. */
static inline uint32_t kiln__sterm_nblocks(const kiln__sterm *st)
{
    return (st->df + KILN__BLOCK - 1) / KILN__BLOCK;
}

/* A term in one doc with tf below the cap has no postings bytes: (doc, tf) is (skip_idx,
 * max_tf), which the dictionary holds anyway (Lucene's "pulsing"). */
static inline int kiln__sterm_pulsed(const kiln__sterm *st)
{
    return st->df == 1 && st->max_tf < UINT16_MAX;
}

/* ---- term dictionary (tdict.c) -------------------------------------------------------------
 * Per field: the terms' bytes back to back with a u32 offset per term (ordinal -> text in O(1)
 * for doc values and binary search), and their metadata in blocks of KILN__TBLOCK terms: each
 * block a few varint bases then one bit-packed column per value (df, postings and positions
 * offsets relative to the block's smallest, max tf, shortest norm, last doc or skip index),
 * so one term decodes in O(1) without its neighbours. About 9 bytes a term instead of 40. */
#define KILN__TBLOCK 32
#define KILN__TCOLS 6

/* A block of text originals (KILN_DV_STR), compressed: values [first, next block's first); its
 * raw bytes are the varint length of each value, then the values. */
typedef struct kiln__strblock {
    uint64_t zoff; /* into the field's frames */
    uint32_t first;
    uint32_t raw_len;
} kiln__strblock;

#define KILN__STR_BLOCK 8192         /* raw bytes per block of text originals */
#define KILN__STR_COMPRESS_MIN 65536 /* fields with fewer raw bytes keep them uncompressed */
/* Their codec: LZ4, as the point of keeping a column of originals (store: true) is reading them
 * fast (~4x zstd's decompression speed); format 4 files hold zstd blocks. */
#define KILN__STR_CODEC KILN_ZCODEC_LZ4

/* The compressed blocks of nstr text originals (value v: bytes [off[v], off[v+1]) of blob); the
 * three arrays malloc'd (seal.c). Refresh seals keep text originals raw in memory (a refresh
 * every second would otherwise compress every document's strings only for the merge to
 * decompress them moments later); merges and segment files compress them. */
void kiln__str_compress(const char *blob, const uint32_t *off, uint32_t nstr,
                        kiln__strblock **blocks, uint32_t *nblocks, uint8_t **z, uint64_t *zlen);

typedef struct kiln__sfield {
    char *path;
    kiln_field_type type;
    int indexed;   /* has terms */
    int has_pos;   /* text: positions */
    int has_norms; /* text: field lengths */
    int stored;    /* text: the mapping's store: true (originals kept without a keyword twin) */
    uint32_t nterms;    /* sorted by bytes; the dictionary (tdict.c): */
    uint32_t *term_off; /* nterms + 1: term i is bytes [term_off[i], term_off[i+1]) of text */
    uint64_t *tblock_off; /* per block of KILN__TBLOCK terms, its offset in tmeta */
    uint8_t *tmeta;       /* the blocks, then KILN__PACK_PAD zero bytes (in tmeta_len) */
    uint64_t tmeta_len;
    char *text;
    uint8_t *norms;     /* ndocs bytes, 0 = no value */
    uint32_t doc_count; /* docs with a value (BM25 N) */
    uint64_t sum_ttf;   /* sum of lengths (BM25 avgdl) */
    kiln_dv dv;
    /* owned arrays behind dv. Text originals (KILN_DV_STR): value v of the field (doc d's i-th
     * is v = dv_off[d] + i) is bytes [dv_str_off[v], dv_str_off[v+1]) of dv_blob, or, when
     * dv_str_z is set, in compressed blocks with their own offsets (no dv_str_off, no raw
     * copy) */
    uint32_t *dv_off, *dv_ord, *dv_str_off;
    int64_t *dv_i64;
    double *dv_f64;
    char *dv_blob;
    uint8_t *dv_str_z; /* the compressed blocks, back to back */
    int dv_str_codec;  /* kiln_zcodec: LZ4 since format 5 (zstd in format 4 files) */
    uint64_t dv_str_zlen;
    kiln__strblock *dv_str_blocks;
    uint32_t dv_str_nblocks;
    /* No duplicate bytes (field index + 1, 0 = none): dv_off_from, dv_off is the same array as
     * an earlier field's (single-valued fields all share 0,1,2,...); str_from, the text
     * originals are exactly the terms of a keyword multi-field's ordinals (name → name.keyword),
     * read through its dv_ord, and the field stores no string bytes at all */
    uint32_t dv_off_from, str_from;
} kiln__sfield;

struct kiln_segment {
    atomic_int refs;
    uint32_t base, ndocs;
    uint32_t nfields;
    kiln__sfield *fields; /* indexed by the sindex's field id; path NULL if absent */
    uint64_t *present; /* NULL when every local id 0..ndocs-1 was added */
    uint8_t *post, *pos;
    kiln__skip *skips;
    size_t post_len, pos_len, nskips;
    void *map; /* segment file mapping (segfile.c): arrays point into it, only paths owned */
    size_t map_len;
    int persisted; /* has a file listed (or to be listed) in the commit */
};

/* Points f->dv (the public view) at the field's arrays (seal.c). */
void kiln__sfield_publish_dv(kiln__sfield *f, uint32_t ndocs);
/* Resolves shared arrays and publishes every field's doc values (seal and open); -1 if a
 * link is invalid. */
int kiln__segment_link(kiln_segment *s);

/* Segment files and the commit file (segfile.c). */
int kiln__segment_write(const kiln_segment *s, const char *dir, kiln_error *err);
/* 1 if s holds raw text originals that its file stores compressed (a refresh seal's). */
int kiln__segment_raw_strings(const kiln_segment *s);
kiln_segment *kiln__segment_open(const char *dir, uint32_t base, kiln_error *err);
int kiln__commit_write(const char *dir, uint32_t upto, kiln_segment *const *segs, size_t n,
                       kiln_error *err);
int kiln__commit_read(const char *dir, uint32_t *upto, uint32_t **bases, size_t *n,
                      kiln_error *err);

/* Reports the bytes of each section of s as written to its file (field NULL: segment-wide). */
typedef void (*kiln__stat_fn)(void *ctx, const char *field, const char *section, size_t bytes);
void kiln__segment_stat(const kiln_segment *s, kiln__stat_fn fn, void *ctx);

void kiln__segment_ref(kiln_segment *s);
void kiln__segment_unref(kiln_segment *s);
const kiln__sfield *kiln__segment_field(const kiln_segment *s, const char *path);
/* Term lookup: the term's ordinal or -1. */
int64_t kiln__term_find(const kiln__sfield *f, const char *t, size_t len);
/* First term >= t (f->nterms if none). */
uint32_t kiln__term_lower_bound(const kiln__sfield *f, const char *t, size_t len);
static inline const char *kiln__term_text(const kiln__sfield *f, uint32_t i, size_t *len)
{
    *len = f->term_off[i + 1] - f->term_off[i];
    return f->text + f->term_off[i];
}
/* Metadata of term i < f->nterms. */
void kiln__term_meta(const kiln__sfield *f, uint32_t i, kiln__sterm *out);
/* Its df alone (statistics). */
uint32_t kiln__term_df(const kiln__sfield *f, uint32_t i);
/* Builds f->tblock_off, f->tmeta from the metadata of its f->nterms terms (seal). */
void kiln__tdict_encode(kiln__sfield *f, const kiln__sterm *terms);
/* Checks a dictionary read from a file against its segment: offsets in order and in bounds,
 * every block's header and columns inside it, every term's postings, positions and skip
 * entries inside the segment's. 0 if valid. */
int kiln__tdict_valid(const kiln__sfield *f, size_t text_len, const kiln_segment *s);
/* Bytes of the term metadata: the block offsets and the blocks. */
static inline size_t kiln__tdict_meta_bytes(const kiln__sfield *f)
{
    return (size_t)(f->nterms + KILN__TBLOCK - 1) / KILN__TBLOCK * 8 + f->tmeta_len;
}

/* Grows array ptr (capacity cap, uint32_t) to hold at least need elements, doubling. */
#define KILN__GROW(ptr, n, cap, need)                                                             \
    do {                                                                                           \
        if ((need) > (cap)) {                                                                      \
            uint32_t c_ = (cap) ? (cap) : 16;                                                      \
            while (c_ < (need)) c_ *= 2;                                                           \
            (ptr) = kiln_xrealloc((ptr), (size_t)c_ * sizeof *(ptr));                              \
            (cap) = c_;                                                                            \
        }                                                                                          \
    } while (0)

/* ---- write buffer ------------------------------------------------------------------------ */

/* One cache line (the array is 64-byte aligned): a token's lookup and its posting append touch
 * this line and no other of the term's. */
typedef struct kiln__wterm {
    uint32_t field;
    uint32_t text_off, text_len;
    uint32_t df;
    uint64_t ttf;
    kiln__slice post; /* varint (doc - prev doc), tf */
    kiln__slice pos;  /* per doc: tf varint position deltas */
    uint32_t last_doc; /* local */
    /* 1 + the term's index in the current doc's touched list; stale values are told apart by
     * touched[cur - 1] != term (a sparse set: nothing to reset between docs) */
    uint32_t cur;
} kiln__wterm;
_Static_assert(sizeof(kiln__wterm) == 64, "a write-buffer term is one cache line");

typedef struct kiln__wfield {
    char *path;
    kiln_field_type type;
    int indexed, has_pos, has_norms;
    /* text: KILN_DV_STR buffers the originals until the seal keeps them (store, or a keyword
     * multi-field spelling them), KILN_DV_COUNT only counts values (no candidate to keep them) */
    kiln_dv_kind dv_kind;
    int store;
    /* text without store: the keyword multi-fields' largest ignore_above (0: none). A longer
     * value cannot be spelled by them, so the buffer stops copying originals (twin_broken,
     * until the next seal) that the seal would drop anyway */
    int64_t twin_limit;
    int twin_broken;
    /* per-doc scratch */
    uint32_t cur_doc1, cur_len, next_pos;
    /* norms: one byte per local doc */
    uint8_t *norms;
    uint32_t norms_cap;
    uint32_t doc_count;
    uint64_t sum_ttf;
    /* doc values: (doc, value) in doc order */
    uint32_t *dv_doc;
    union {
        int64_t *i64;
        double *f64;
        uint32_t *u32; /* keyword term ids; text string indexes */
    } dv_val;
    uint32_t dv_n, dv_cap;
    kiln__bytes str_blob; /* text: original strings */
    uint32_t *str_off;
    uint32_t str_n, str_cap;
} kiln__wfield;

typedef struct kiln__tok { /* one token of the current doc */
    uint32_t term, pos;
} kiln__tok;

typedef struct kiln__pend { /* a token of the value being analyzed, before its term lookup */
    uint32_t hash, off, len, pos, cand;
} kiln__pend;

typedef struct kiln__writer {
    uint32_t base;   /* first docnum of the buffer */
    uint32_t ndocs;  /* local ids 0..ndocs-1 */
    uint32_t count;  /* docs added */
    kiln__wterm *terms; /* 64-byte aligned */
    uint32_t *thash;    /* each term's hash, for regrowing the table */
    uint32_t nterms, terms_cap;
    uint64_t *table; /* open addressing: hash << 32 | (term id + 1), 0 empty; the hash is
                        compared before the term is touched, sparing a cache miss per probe */
    uint32_t table_mask;
    kiln__bytes text;
    kiln__pool pool; /* postings and positions of every term */
    /* current doc */
    kiln__tok *toks;
    uint32_t ntoks, toks_cap;
    uint32_t *touched; /* the doc's distinct terms, */
    uint32_t *tf;      /* their frequencies in it, */
    uint32_t *slot;    /* and where their positions go in slots */
    uint32_t touched_cap, tf_cap;
    uint32_t *slots;
    uint32_t slots_cap;
    uint32_t *tfields;
    uint32_t tfields_cap;
    uint64_t *present; /* docs added (doc numbers may have gaps) */
    uint32_t present_words;
    /* the value's tokens, resolved in a batch so the memory loads of the term table and term
     * records overlap instead of stalling one token at a time */
    kiln__pend *pend;
    uint32_t npend, pend_cap;
    kiln__bytes pend_text;
} kiln__writer;

/* The fields known to an sindex (ids are stable for its lifetime). */
typedef struct kiln__fields {
    kiln__wfield *v;
    uint32_t n, cap;
} kiln__fields;

struct kiln_sindex {
    char *dir;
    pthread_mutex_t lock; /* guards segs/nsegs and the published reader */
    kiln_segment **segs;
    size_t nsegs, segs_cap;
    kiln_sindex_reader *current; /* the published reader (one ref held by the sindex) */
    _Atomic uint64_t gen;        /* publications so far */
    kiln__fields fields;
    kiln__writer w;
    uint32_t next_docnum; /* every docnum added so far is below */
    _Atomic size_t buf_bytes; /* the writer's estimate of its buffer (kiln_sindex_buffer_bytes) */
    uint32_t sealed_upto;    /* every docnum below is in a sealed segment */
    uint32_t committed_upto; /* every docnum below is in a persisted segment */
    uint32_t *obsolete;      /* bases of merged-away segment files, removed after a commit */
    size_t nobsolete;
    /* mapping cache: per mapping field, its sindex field id and multi-fields */
    kiln_mapping *cached_m;
    uint32_t *m_fid;      /* mapping field index -> sindex field id */
    uint32_t *m_multi;    /* flattened multi-field lists */
    uint32_t *m_multi_at; /* mapping field index -> [start, end) in m_multi */
    char path[1024];
    /* refresh and merges outside the shard's write lock (sindex.c) */
    pthread_mutex_t publish_lock; /* one seal + publish at a time: segments append in order */
    pthread_mutex_t merge_lock;   /* one merge or commit at a time */
    uint32_t busy_sealed;         /* sealed_upto when the merge policy last saw it grow, */
    int64_t busy_ms;              /* and when (under lock) */
    struct kiln__frozen *frozen;  /* buffers detached by kiln_sindex_freeze, oldest first */
    struct kiln__frozen *spare;   /* a sealed buffer's writer, kept for the next freeze */
};

struct kiln_sindex_reader {
    atomic_int refs;
    size_t nsegs;
    kiln_segment **segs;
    uint32_t *bases; /* for kiln_reader_find */
};

void kiln__writer_init(kiln__writer *w);
void kiln__writer_reset(kiln__writer *w, kiln__fields *fs, uint32_t base);
void kiln__writer_free(kiln__writer *w);
/* The id of (field, term) in the buffer, added if new. */
uint32_t kiln__writer_term(kiln__writer *w, uint32_t field, const char *s, size_t len);
/* Merges consecutive segments (docnum order) into one new segment (merge.c). */
kiln_segment *kiln__merge(kiln_segment *const *segs, size_t n);
/* Seals the write buffer into a segment (NULL when empty); compress: text originals of at
 * least KILN__STR_COMPRESS_MIN bytes in compressed blocks (merges), else raw (refreshes). */
kiln_segment *kiln__seal(kiln__writer *w, kiln__fields *fs, int compress);

#endif
