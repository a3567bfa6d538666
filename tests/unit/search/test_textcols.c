/* Text fields' doc values: a column of originals only where it is asked for (store: true) or
 * free (a keyword multi-field spells the same strings); otherwise value counts only
 * (KILN_DV_COUNT), which exists queries use and UDFs complete from _source. Checked after a
 * refresh seal, a merge that meets segments of both kinds, and a reopen from the files. */
#include "../test.h"
#include "test_mapping.h"

#include "core/fs.h"
#include "search/iter.h"
#include "search/searchInt.h"

/* body: plain text; title: text with a keyword twin (ignore_above 12); notes: text, stored */
static const char *const kMapping =
    "{\"properties\":{\"body\":{\"type\":\"text\"},\"title\":{\"type\":\"text\",\"fields\":"
    "{\"raw\":{\"type\":\"keyword\",\"ignore_above\":12}}},\"notes\":{\"type\":\"text\","
    "\"store\":true}}}";

/* Doc d: body "b<d> ..." (two values when d % 3 == 0), title short unless long_titles, notes. */
static void add_doc(kiln_sindex *si, kiln_mapping *m, uint32_t d, int long_titles)
{
    char js[256];
    snprintf(js, sizeof js,
             "{\"body\":%s\"b%u words\"%s,\"title\":\"%s%u\",\"notes\":\"note %u\"}",
             d % 3 ? "" : "[\"x\",", d, d % 3 ? "" : "]",
             long_titles ? "a title longer than twelve " : "t", d, d);
    json_t *doc = json_loads(js, 0, NULL);
    kiln_error err;
    CHECK(doc != NULL);
    CHECK_INT(kiln_sindex_add(si, d, doc, m, NULL, &err), 0);
    json_decref(doc);
}

static kiln__sfield *field_of(const kiln_segment *s, const char *path)
{
    for (uint32_t i = 0; i < s->nfields; i++)
        if (s->fields[i].path && !strcmp(s->fields[i].path, path)) return &s->fields[i];
    return NULL;
}

/* Segment k's kinds and values: body counts only; notes a column (stored); title through the
 * twin when every title fits under ignore_above (twin), else counts only. */
static void check_segment(const kiln_segment *s, int twin)
{
    kiln_dv body, title, notes;
    CHECK_INT(kiln_dv_get(s, "body", &body), 0);
    CHECK_INT(kiln_dv_get(s, "title", &title), 0);
    CHECK_INT(kiln_dv_get(s, "notes", &notes), 0);
    CHECK_INT(body.kind, KILN_DV_COUNT);
    CHECK_INT(notes.kind, KILN_DV_STR);
    CHECK_INT(title.kind, twin ? KILN_DV_STR : KILN_DV_COUNT);
    CHECK(!twin || title.str_ord != NULL);
    CHECK(field_of(s, "notes")->stored && !field_of(s, "body")->stored);
    int bad = 0;
    for (uint32_t local = 0; local < s->ndocs; local++) {
        uint32_t d = s->base + local;
        size_t len;
        bad += kiln_dv_count(&body, local) != (d % 3 ? 1u : 2u);
        bad += kiln_dv_str(&body, local, 0, &len) != NULL; /* no strings behind the counts */
        char want[64];
        snprintf(want, sizeof want, "note %u", d);
        const char *v = kiln_dv_str(&notes, local, 0, &len);
        bad += !v || len != strlen(want) || memcmp(v, want, len);
        snprintf(want, sizeof want, "t%u", d);
        v = kiln_dv_str(&title, local, 0, &len);
        bad += twin ? !v || len != strlen(want) || memcmp(v, want, len) : v != NULL;
    }
    CHECK_INT(bad, 0);
}

/* Counts the string sections a segment holds ("dv string ..."). */
static void count_strings(void *ctx, const char *field, const char *section, uint64_t bytes)
{
    (void)field;
    (void)bytes;
    if (!strncmp(section, "dv string", 9)) ++*(int *)ctx;
}

static void test_columns_only_where_asked_or_free(void)
{
    char dir[256];
    kiln_test_tmpdir(dir, sizeof dir, "textcols");
    kiln_mapping *m = mapping(kMapping);
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(dir, &err);
    for (uint32_t d = 0; d < 100; d++) add_doc(si, m, d, 0);
    kiln_sindex_freeze(si);
    CHECK_INT(kiln_sindex_publish(si, &err), 0);
    for (uint32_t d = 100; d < 200; d++) add_doc(si, m, d, d == 150);
    kiln_sindex_freeze(si);
    CHECK_INT(kiln_sindex_publish(si, &err), 0);

    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    CHECK_INT(kiln_reader_nsegments(rd), 2);
    if (kiln_reader_nsegments(rd) == 2) {
        check_segment(kiln_reader_segment(rd, 0), 1);
        int strings = 0;
        kiln__segment_stat(kiln_reader_segment(rd, 0), count_strings, &strings);
        CHECK_INT(strings, 2); /* notes' offsets and bytes: nothing for body or title */
    }
    kiln_sindex_reader_release(rd);

    /* one long title breaks the twin in the second segment: its titles are counts only */
    CHECK_INT(kiln_sindex_commit(si, &err), 0);
    rd = kiln_sindex_reader_acquire(si);
    size_t n = kiln_reader_nsegments(rd);
    for (size_t i = 0; i < n; i++) {
        const kiln_segment *s = kiln_reader_segment(rd, i);
        check_segment(s, s->base + s->ndocs <= 100);
    }
    kiln_sindex_reader_release(rd);
    kiln_sindex_close(si);

    si = kiln_sindex_open(dir, &err); /* the files say the same */
    CHECK(si != NULL);
    if (si) {
        rd = kiln_sindex_reader_acquire(si);
        for (size_t i = 0; i < kiln_reader_nsegments(rd); i++) {
            const kiln_segment *s = kiln_reader_segment(rd, i);
            check_segment(s, s->base + s->ndocs <= 100);
        }
        kiln_sindex_reader_release(rd);
        kiln_sindex_close(si);
    }
    kiln_fs_remove_tree(dir, NULL);
    kiln_mapping_unref(m);
}

/* The write buffer's text field of that path. */
static const kiln__wfield *wfield_of(const kiln_sindex *si, const char *path)
{
    for (uint32_t i = 0; i < si->fields.n; i++)
        if (!strcmp(si->fields.v[i].path, path)) return &si->fields.v[i];
    return NULL;
}

/* A title longer than its keyword twin's ignore_above: the buffer stops copying titles at once
 * (the seal could not keep them) and starts again after the seal; notes (stored) never stop. */
static void test_buffer_stops_copying_what_no_twin_spells(void)
{
    kiln_mapping *m = mapping(kMapping);
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(NULL, &err);
    for (uint32_t d = 0; d < 10; d++) add_doc(si, m, d, 0);
    const kiln__wfield *title = wfield_of(si, "title"), *notes = wfield_of(si, "notes");
    CHECK(title && notes);
    if (!title || !notes) return;
    CHECK(title->str_blob.len > 0 && !title->twin_broken);
    add_doc(si, m, 10, 1);
    for (uint32_t d = 11; d < 20; d++) add_doc(si, m, d, 0);
    CHECK(title->twin_broken);
    CHECK_INT(title->str_blob.len, 0);
    CHECK(notes->str_blob.len > 0);
    kiln_sindex_freeze(si);
    CHECK_INT(kiln_sindex_publish(si, &err), 0);
    for (uint32_t d = 20; d < 30; d++) add_doc(si, m, d, 0);
    CHECK(!title->twin_broken && title->str_blob.len > 0);
    kiln_sindex_freeze(si);
    CHECK_INT(kiln_sindex_publish(si, &err), 0);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    CHECK_INT(kiln_reader_nsegments(rd), 2);
    for (size_t i = 0; i < kiln_reader_nsegments(rd); i++) {
        const kiln_segment *s = kiln_reader_segment(rd, i);
        check_segment(s, s->base >= 20);
    }
    kiln_sindex_reader_release(rd);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

/* A merge of segments with a title column and one with counts only (doc 27's long title):
 * counts only, values intact. */
static void test_merge_meets_both_kinds(void)
{
    kiln_mapping *m = mapping(kMapping);
    kiln_error err;
    kiln_sindex *si = kiln_sindex_open(NULL, &err);
    uint32_t d = 0;
    for (int seg = 0; seg < 9; seg++) { /* one more than the policy keeps */
        for (int i = 0; i < 20; i++, d++) add_doc(si, m, d, d == 27);
        kiln_sindex_freeze(si);
        CHECK_INT(kiln_sindex_publish(si, &err), 0);
    }
    CHECK(kiln_sindex_merge_step(si) > 0);
    kiln_sindex_reader *rd = kiln_sindex_reader_acquire(si);
    int merged_with_27 = 0;
    for (size_t i = 0; i < kiln_reader_nsegments(rd); i++) {
        const kiln_segment *s = kiln_reader_segment(rd, i);
        int has27 = s->base <= 27 && 27 < s->base + s->ndocs;
        merged_with_27 += has27 && s->ndocs > 20;
        check_segment(s, !has27);
    }
    CHECK_INT(merged_with_27, 1);
    kiln_sindex_reader_release(rd);
    kiln_sindex_close(si);
    kiln_mapping_unref(m);
}

KT_MAIN(KT_CASE(test_columns_only_where_asked_or_free), KT_CASE(test_merge_meets_both_kinds),
        KT_CASE(test_buffer_stops_copying_what_no_twin_spells))
