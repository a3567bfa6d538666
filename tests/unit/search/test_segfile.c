/* Segment format 5: text originals in zstd blocks (round trips in memory, through a file and
 * through merges; block boundaries, empty and oversized values), corruption, and versions
 * other than 4 and 5 (1, 2 and 3, with 48- and 40-byte term records; a future 6) refused. */
#include "../test.h"
#include "test_mapping.h"

#include "core/fs.h"
#include "search/iter.h"
#include "search/searchInt.h"

#include <fcntl.h>
#include <unistd.h>

/* Value k of doc d: empty, short, or once in a while longer than a block. (Not empty first:
 * writer.c passes a NULL blob to memcpy for an empty first string, which UBSan reports.) */
static size_t value_of(uint32_t d, uint32_t k, char *buf, size_t cap)
{
    size_t n = (d + k) % 41 == 0 && d ? 0
               : (d + k) % 101 == 7   ? KILN__STR_BLOCK + 333
                                      : 20 + (d * 31 + k * 17) % 300;
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (i % 6 == 5) ? ' ' : (char)('a' + (d * 13 + k * 5 + i * 7) % 26);
    buf[n] = 0;
    return n;
}

static uint32_t nvals(uint32_t d)
{
    return d % 5 == 0 ? 2 : d % 17 == 0 ? 0 : 1;
}

static void add_doc(kiln_sindex *si, kiln_mapping *m, uint32_t d)
{
    static char buf[2 * KILN__STR_BLOCK];
    json_t *doc = json_object(), *arr = json_array();
    for (uint32_t k = 0; k < nvals(d); k++) {
        value_of(d, k, buf, sizeof buf);
        json_array_append_new(arr, json_string(buf));
    }
    json_object_set_new(doc, "body", arr);
    json_object_set_new(doc, "k", json_string(d % 3 ? "x" : "y"));
    kiln_error err;
    CHECK_INT(kiln_sindex_add(si, d, doc, m, NULL, &err), 0);
    json_decref(doc);
}

/* Checks every value of docs [0, n) through the reader, in order or strided (cache misses). */
static int check_values(kiln_sindex *si, uint32_t n, uint32_t stride)
{
    static char want[2 * KILN__STR_BLOCK];
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    int bad = 0;
    for (uint32_t x = 0; x < n; x++) {
        uint32_t d = (uint32_t)(((uint64_t)x * stride) % n), local;
        const kiln_segment *s = kiln_reader_find(rd, d, &local);
        kiln_dv dv;
        if (!s || kiln_dv_get(s, "body", &dv)) {
            bad += nvals(d) != 0;
            continue;
        }
        if (kiln_dv_count(&dv, local) != nvals(d)) bad++;
        for (uint32_t k = 0; k < nvals(d); k++) {
            size_t len, wl = value_of(d, k, want, sizeof want);
            const char *v = kiln_dv_str(&dv, local, k, &len);
            if (len != wl || (wl && (!v || memcmp(v, want, wl)))) {
                if (bad++ < 3)
                    fprintf(stderr, "doc %u value %u differs (len %zu, want %zu)\n", d, k, len, wl);
            }
        }
    }
    kiln_sindex_reader_release(rd);
    return bad;
}

typedef struct {
    size_t z, raw;
} sizes;

static void on_section(void *ctx, const char *field, const char *section, size_t bytes)
{
    sizes *s = ctx;
    if (!field || strcmp(field, "body")) return;
    if (!strcmp(section, "dv string bytes (compressed)")) s->z += bytes;
    if (!strcmp(section, "dv string bytes")) s->raw += bytes;
}

static sizes segment_sizes(kiln_sindex *si)
{
    sizes z = {0, 0};
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    for (size_t i = 0; i < kiln_reader_nsegments(rd); i++)
        kiln__segment_stat(kiln_reader_segment(rd, i), on_section, &z);
    kiln_sindex_reader_release(rd);
    return z;
}

/* Segments whose "body" text originals are in zstd blocks in memory (*raw: those with them
 * uncompressed). Refresh seals keep them raw; merges and opened files hold them compressed. */
static int segments_compressed(kiln_sindex *si, int *raw)
{
    int z = 0;
    *raw = 0;
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    for (size_t i = 0; i < kiln_reader_nsegments(rd); i++) {
        kiln_dv dv;
        if (kiln_dv_get(kiln_reader_segment(rd, i), "body", &dv)) continue;
        if (dv.str_z)
            z++;
        else
            ++*raw;
    }
    kiln_sindex_reader_release(rd);
    return z;
}

#define NDOCS 3000

static void test_text_originals_round_trip(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "segfile");
    kiln_mapping *m =
        mapping("{\"properties\":{\"body\":{\"type\":\"text\",\"store\":true},\"k\":{\"type\":\"keyword\"}}}");
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(dir, &err);
    for (uint32_t d = 0; d < NDOCS; d++)
        add_doc(si, m, d);
    kiln_sindex_refresh(si, &err);
    int raw;
    CHECK_INT(segments_compressed(si, &raw), 0); /* a refresh seal keeps them raw in memory */
    CHECK_INT(raw, 1);
    sizes z = segment_sizes(si);
    CHECK(z.z > 0); /* large enough to be compressed in the file */
    CHECK_INT(z.raw, 0);
    CHECK_INT(check_values(si, NDOCS, 1), 0);
    CHECK_INT(check_values(si, NDOCS, 7919), 0);
    CHECK_INT(kiln_sindex_commit(si, &err), 0);
    CHECK_INT(segments_compressed(si, &raw), 1); /* swapped for the file's compressed copy */
    CHECK_INT(raw, 0);
    CHECK_INT(check_values(si, NDOCS, 7919), 0);
    kiln_sindex_close(si);

    si = kiln_sindex_open(dir, &err); /* memory-mapped from the file */
    CHECK(si != NULL);
    if (!si) return;
    CHECK_INT(segments_compressed(si, &raw), 1); /* compressed when written */
    CHECK_INT(raw, 0);
    CHECK_INT(check_values(si, NDOCS, 1), 0);
    CHECK_INT(check_values(si, NDOCS, 7919), 0);
    /* small segments stay uncompressed; merging them with the big one recompresses */
    uint32_t d = NDOCS;
    for (int seg = 0; seg < 12; seg++) {
        for (int i = 0; i < 20; i++, d++)
            add_doc(si, m, d);
        kiln_sindex_refresh(si, &err);
        if (seg == 0) CHECK(segment_sizes(si).raw > 0);
    }
    CHECK(kiln_reader_nsegments(si->current) <= 8);
    CHECK_INT(check_values(si, d, 1), 0);
    CHECK_INT(check_values(si, d, 7919), 0);
    CHECK_INT(kiln_sindex_commit(si, &err), 0);
    kiln_sindex_close(si);
    si = kiln_sindex_open(dir, &err);
    CHECK(si != NULL);
    if (si) CHECK_INT(check_values(si, d, 3), 0);
    kiln_sindex_close(si);
    kiln_fs_remove_tree(dir, NULL);
    kiln_mapping_unref(m);
}

/* Merging segments whose text originals are all compressed (the merge reads them a block at a
 * time, in order) keeps every value, including empty ones and values longer than a block. */
static void test_merge_compressed(void)
{
    kiln_mapping *m =
        mapping("{\"properties\":{\"body\":{\"type\":\"text\",\"store\":true},\"k\":{\"type\":\"keyword\"}}}");
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(NULL, &err);
    uint32_t d = 0;
    for (int seg = 0; seg < 12; seg++) {
        for (int i = 0; i < 450; i++, d++)
            add_doc(si, m, d);
        kiln_sindex_freeze(si);
        CHECK_INT(kiln_sindex_publish(si, &err), 0);
    }
    CHECK(segment_sizes(si).raw == 0 && segment_sizes(si).z > 0); /* every file compressed */
    int raw;
    CHECK_INT(segments_compressed(si, &raw), 0); /* raw in memory until merged */
    CHECK_INT(raw, 12);
    int merges = 0;
    while (kiln_sindex_merge_step(si) > 0) merges++;
    CHECK(merges > 0);
    CHECK_INT(segments_compressed(si, &raw), merges); /* each merge result compressed */
    CHECK_INT(raw, 12 - 4 * merges);
    CHECK_INT(check_values(si, d, 1), 0);
    CHECK_INT(check_values(si, d, 7919), 0);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

/* A committed single-segment index in dir; returns the segment's path. */
static void make_index(char *dir, size_t dcap, char *path, size_t pcap)
{
    kiln_test_tmpdir(dir, dcap, "segfile");
    kiln_mapping *m =
        mapping("{\"properties\":{\"body\":{\"type\":\"text\",\"store\":true},\"k\":{\"type\":\"keyword\"}}}");
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(dir, &err);
    for (uint32_t d = 0; d < NDOCS; d++)
        add_doc(si, m, d);
    CHECK_INT(kiln_sindex_commit(si, &err), 0);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
    snprintf(path, pcap, "%s/seg-%010u.ksg", dir, 0u);
}

static void patch(const char *path, long at, const void *bytes, size_t n)
{
    int fd = open(path, O_RDWR);
    if (at < 0) at += lseek(fd, 0, SEEK_END);
    CHECK_INT(pwrite(fd, bytes, n, at), (long)n);
    close(fd);
}

static void test_corrupt_frames_detected(void)
{
    char dir[256], path[512];
    make_index(dir, sizeof dir, path, sizeof path);
    /* the compressed strings are the last sections: hit them a little before the footer */
    patch(path, -200, "\x5a", 1);
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(dir, &err);
    CHECK(si == NULL);
    CHECK(si == NULL && strstr(err.reason, "corrupt segment file") != NULL);
    kiln_sindex_close(si);
    kiln_fs_remove_tree(dir, NULL);
}

static void test_old_version_refused(void)
{
    char dir[256], path[512];
    make_index(dir, sizeof dir, path, sizeof path);
    static const uint32_t versions[] = {1, 2, 3, 6}; /* 2: 48-byte term records, 3: 40-byte
                                                        ones; 6: a future one */
    for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
        uint32_t v = versions[i];
        patch(path, 8, &v, 4);
        kiln_error err;
        kiln_sindex *si = kiln_sindex_open(dir, &err);
        char want[40];
        snprintf(want, sizeof want, "segment format version %u", v);
        CHECK(si == NULL);
        CHECK(si == NULL && strstr(err.reason, want) != NULL);
        kiln_sindex_close(si);
    }
    kiln_fs_remove_tree(dir, NULL);
}

typedef struct {
    int offsets, strings;
} counts;

static void count_sections(void *ctx, const char *field, const char *section, size_t bytes)
{
    counts *c = ctx;
    (void)field;
    (void)bytes;
    if (!strcmp(section, "dv offsets")) c->offsets++;
    if (!strncmp(section, "dv string", 9)) c->strings++;
}

/* name (text) + name.keyword hold the same single strings: the text originals are read through
 * the keyword ordinals; tags (multi-valued, not in sorted order) keep their own strings; every
 * single-valued column shares one offsets array. */
static void check_shared(kiln_sindex *si, uint32_t n)
{
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    const kiln_segment *s = kiln_reader_segment(rd, 0);
    counts c = {0, 0};
    kiln__segment_stat(s, count_sections, &c);
    CHECK_INT(c.offsets, 2); /* one for the single-valued columns, one for the tags */
    CHECK_INT(c.strings, 2); /* tags: offsets + bytes; name: none */
    kiln_dv name, tags;
    CHECK_INT(kiln_dv_get(s, "name", &name), 0);
    CHECK_INT(kiln_dv_get(s, "tags", &tags), 0);
    CHECK(name.str_ord != NULL && tags.str_ord == NULL);
    int bad = 0;
    for (uint32_t d = 0; d < n; d++) {
        char want[64];
        size_t len;
        snprintf(want, sizeof want, "Name %u", d * 7 % 100);
        const char *v = kiln_dv_str(&name, d, 0, &len);
        bad += !v || len != strlen(want) || memcmp(v, want, len);
        snprintf(want, sizeof want, "z%u", d);
        v = kiln_dv_str(&tags, d, 0, &len); /* source order: "z.." before "a" */
        bad += !v || len != strlen(want) || memcmp(v, want, len);
        v = kiln_dv_str(&tags, d, 1, &len);
        bad += !v || len != 1 || *v != 'a';
    }
    CHECK_INT(bad, 0);
    kiln_sindex_reader_release(rd);
}

static void test_shared_arrays(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "segfile");
    kiln_mapping *m =
        mapping("{\"properties\":{\"name\":{\"type\":\"text\",\"fields\":{\"keyword\":"
                "{\"type\":\"keyword\"}}},\"tags\":{\"type\":\"text\",\"store\":true,\"fields\":{\"keyword\":"
                "{\"type\":\"keyword\"}}},\"n\":{\"type\":\"long\"}}}");
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(dir, &err);
    for (uint32_t d = 0; d < 500; d++) {
        char js[160];
        snprintf(js, sizeof js, "{\"name\":\"Name %u\",\"tags\":[\"z%u\",\"a\"],\"n\":%u}",
                 d * 7 % 100, d, d);
        json_t *doc = json_loads(js, 0, NULL);
        CHECK_INT(kiln_sindex_add(si, d, doc, m, NULL, &err), 0);
        json_decref(doc);
    }
    CHECK_INT(kiln_sindex_commit(si, &err), 0);
    check_shared(si, 500);
    kiln_sindex_close(si);
    si = kiln_sindex_open(dir, &err);
    CHECK(si != NULL);
    if (si) check_shared(si, 500);
    kiln_sindex_close(si);
    kiln_fs_remove_tree(dir, NULL);
    kiln_mapping_unref(m);
}

/* Every width 0..32 with the largest value of the width at the block's edges. */
static void test_bit_packing(void)
{
    uint8_t buf[16 * 32 + KILN__PACK_PAD];
    uint32_t in[KILN__BLOCK], out[KILN__BLOCK];
    int bad = 0;
    for (unsigned w = 0; w <= 32; w++) {
        uint32_t max = w == 32 ? UINT32_MAX : (1u << w) - 1;
        for (unsigned i = 0; i < KILN__BLOCK; i++)
            in[i] = i == 0 || i == KILN__BLOCK - 1 ? max : (uint32_t)((i * 2654435761u) & max);
        memset(buf, 0xee, sizeof buf);
        kiln__pack(buf, in, w);
        CHECK_INT(kiln__bits(max), w);
        kiln__unpack(buf, out, w);
        bad += memcmp(in, out, sizeof in) != 0;
        /* a partial run (a partial block's positions): exactly (n × w + 7) / 8 bytes written */
        static const size_t ns[] = {1, 3, 7, 8, 33, 127};
        for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
            size_t n = ns[k], bytes = (n * w + 7) / 8;
            memset(buf, 0xee, sizeof buf);
            kiln__pack_n(buf, in + 1, n, w);
            for (size_t i = 0; i < n; i++) bad += kiln__unpack_at(buf, i, w) != in[1 + i];
            for (size_t i = bytes; i < bytes + 8; i++) bad += buf[i] != 0xee;
        }
    }
    CHECK_INT(bad, 0);
}

/* Postings of terms with df around the block size (full blocks bit-packed, the last partial
 * block varints), big gaps and big term frequencies, read back by next and advance; sealed at
 * once, or in segments of `per_segment` docs merged into one (merge.c decodes the blocks). */
static void postings_round_trip(uint32_t per_segment)
{
    kiln_mapping *m = mapping("{\"properties\":{\"t\":{\"type\":\"text\"}}}");
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(NULL, &err);
    static char body[70000];
    const uint32_t ndocs = 2000;
    for (uint32_t d = 0; d < ndocs; d++) {
        /* "a" in every doc with tf 1..3; "b" in docs 0..127 (exactly one block); "c" in 129
         * docs; "d" every 7th doc with tf up to 9000 on one */
        size_t n = 0;
        for (uint32_t k = 0; k <= d % 3; k++)
            n += (size_t)snprintf(body + n, sizeof body - n, "a ");
        if (d < 128) n += (size_t)snprintf(body + n, sizeof body - n, "b ");
        if (d % 15 == 0 && d / 15 < 129) n += (size_t)snprintf(body + n, sizeof body - n, "c ");
        uint32_t dtf = d % 7 ? 0 : d == 1400 ? 9000 : 1 + d % 5;
        for (uint32_t k = 0; k < dtf; k++)
            n += (size_t)snprintf(body + n, sizeof body - n, "d ");
        json_t *doc = json_object();
        json_object_set_new(doc, "t", json_string(body));
        CHECK_INT(kiln_sindex_add(si, d * 1000, doc, m, NULL, &err), 0); /* gaps of 1000 */
        json_decref(doc);
        if (per_segment && (d + 1) % per_segment == 0) {
            kiln_sindex_freeze(si);
            CHECK_INT(kiln_sindex_publish(si, &err), 0);
        }
    }
    kiln_sindex_refresh(si, &err);
    if (per_segment) CHECK(kiln_sindex_force_merge(si, 1) > 0);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    CHECK_INT(kiln_reader_nsegments(rd), 1);
    const kiln_segment *s = kiln_reader_segment(rd, 0);
    const kiln__sfield *f = kiln__segment_field(s, "t");
    const char *terms[] = {"a", "b", "c", "d"};
    int bad = 0;
    for (int ti = 0; ti < 4; ti++) {
        int64_t term = kiln__term_find(f, terms[ti], 1);
        CHECK(term >= 0);
        if (term < 0) continue;
        kiln__it *it = kiln__it_term(s, f, (uint32_t)term, (kiln__bm25){0, NULL});
        uint32_t want = 0, seen = 0;
        for (uint32_t doc = kiln__it_next(it); doc != KILN__END; doc = kiln__it_next(it), want++) {
            for (;; want++) { /* the next doc holding the term */
                uint32_t d = want;
                int has = ti == 0 || (ti == 1 && d < 128) ||
                          (ti == 2 && d % 15 == 0 && d / 15 < 129) || (ti == 3 && d % 7 == 0);
                if (has || want >= ndocs) break;
            }
            uint32_t tf = kiln__it_term_freq(it);
            if (want % 3 == 0 && (ti == 0 || ti == 3)) { /* positions, skipping other docs' */
                static uint32_t pos[10000];
                uint32_t np = kiln__it_term_positions(it, pos, 10000);
                /* "a" opens the text; "d" follows the a's and maybe "b", "c" */
                uint32_t first =
                    ti == 0 ? 0 : want % 3 + 1 + (want < 128) + (want % 15 == 0 && want / 15 < 129);
                int ok = np == tf && np > 0 && pos[0] == first;
                for (uint32_t k = 1; ok && k < np; k++)
                    ok = pos[k] == pos[k - 1] + 1;
                if (!ok && bad++ < 3)
                    fprintf(stderr, "term %s doc %u: positions differ\n", terms[ti], want);
            }
            uint32_t wtf = ti == 0   ? want % 3 + 1
                           : ti == 3 ? (want == 1400 ? 9000 : 1 + want % 5)
                                     : 1;
            if (doc != want * 1000 || tf != wtf) {
                if (bad++ < 3)
                    fprintf(stderr, "term %s: doc %u tf %u, want %u tf %u\n", terms[ti], doc, tf,
                            want * 1000, wtf);
            }
            seen++;
        }
        CHECK_INT(seen, kiln__term_df(f, (uint32_t)term));
        kiln__it_free(it);
        it = kiln__it_term(s, f, (uint32_t)term, (kiln__bm25){0, NULL}); /* advance across blocks */
        uint32_t got = kiln__it_advance(it, 1500 * 1000 + 1);
        bad += ti == 0 && got != 1501 * 1000;
        bad += ti == 3 && got != 1505 * 1000;
        bad += ti == 2 && got != 1515 * 1000;
        bad += ti == 1 && got != KILN__END;
        kiln__it_free(it);
    }
    CHECK_INT(bad, 0);
    kiln_sindex_reader_release(rd);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

static void test_postings_round_trip(void)
{
    postings_round_trip(0);
}

/* Segments of 300 docs (a term's blocks split differently in each), and of 1, 7 and 129 */
static void test_postings_through_merges(void)
{
    postings_round_trip(300);
    postings_round_trip(1);
    postings_round_trip(7);
    postings_round_trip(129);
}

KT_MAIN(KT_CASE(test_bit_packing), KT_CASE(test_postings_round_trip),
        KT_CASE(test_postings_through_merges),
        KT_CASE(test_text_originals_round_trip), KT_CASE(test_merge_compressed),
        KT_CASE(test_shared_arrays),
        KT_CASE(test_corrupt_frames_detected), KT_CASE(test_old_version_refused))
