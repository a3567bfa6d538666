/* Search execution off the request path: merges that run while writes, deletes and refreshes
 * go on (a hook parks the merge until they are done: if any of them waited for the merge, the
 * test would hang and fail by its timeout, with no timing assumption), deleted docs that stay
 * deleted once the merged segment is published, and shards searched in parallel on the worker
 * pool giving exactly the sequential answer. Labels unit and tsan. */
#include "../test.h"
#include "test_mapping.h"
#include "core/json.h"

#include "core/fs.h"
#include "core/workers.h"
#include "dsl/query.h"
#include "index/shard.h"
#include "search/search.h"

#include <pthread.h>
#include <unistd.h>

static kiln_mapping *the_mapping;

static kiln_mapping *mapping_of(void *ctx)
{
    (void)ctx;
    return kiln_mapping_ref(the_mapping);
}

/* A shard in a fresh temporary dir with a search index under the_mapping (mapping_json). */
static kiln_shard *open_searchable(char *dir, size_t cap, const char *name,
                                   const char *mapping_json)
{
    kiln_test_tmpdir(dir, cap, name);
    the_mapping = mapping(mapping_json);
    kiln_error err;
    kiln_shard *s = kiln_shard_open(dir, 0, 1 << 30, KILN_ZCODEC_LZ4, &err);
    CHECK(s != NULL);
    if (s) CHECK_INT(kiln_shard_search_attach(s, mapping_of, NULL, NULL, &err), 0);
    return s;
}

static void close_searchable(kiln_shard *s, const char *dir)
{
    kiln_shard_close(s);
    kiln_fs_remove_tree(dir, NULL);
    kiln_mapping_unref(the_mapping);
}

static void put(kiln_shard *s, const char *id, const char *src)
{
    kiln_error err;
    kiln_write_opts o = KILN_WRITE_OPTS_INIT;
    kiln_doc_meta meta;
    kiln_result res;
    uint64_t lsn;
    kiln_json doc = KILN_JSON_INIT;
    CHECK_INT(kiln_json_parse(&doc, src, strlen(src)), 0);
    int rc = kiln_shard_index(s, id, strlen(id), src, strlen(src), &doc, &o, &meta, &res, &lsn, &err);
    if (rc) fprintf(stderr, "index %s: %s\n", id, err.reason);
    CHECK_INT(rc, 0);
    kiln_json_dispose(&doc);
}

static void del(kiln_shard *s, const char *id)
{
    kiln_error err;
    kiln_write_opts o = KILN_WRITE_OPTS_INIT;
    kiln_doc_meta meta;
    kiln_result res;
    uint64_t lsn;
    CHECK_INT(kiln_shard_delete(s, id, strlen(id), &o, &meta, &res, &lsn, &err), 0);
    CHECK_INT(res, KILN_RESULT_DELETED);
}

static kiln_plan *plan_of(const char *qjs, const kiln_mapping *m)
{
    json_t *j = json_loads(qjs, 0, NULL);
    kiln_dsl_error de;
    kiln_query *q = kiln_dsl_parse(j, "query", &de);
    json_decref(j);
    kiln_error err;
    kiln_plan *p = q ? kiln_plan_build(q, m, NULL, 1700000000000LL, &err) : NULL;
    kiln_query_free(q);
    return p;
}

/* Every hit of the query on the shard's current searcher as "id,id,..." (sorted by _id bytes
 * by the caller's choice of ids), and the total. */
static uint64_t ids_of_after(kiln_shard *s, const char *qjs, char *out, size_t cap,
                             int64_t refresh_after_ms)
{
    kiln_plan *p = plan_of(qjs, the_mapping);
    kiln_shard_searcher *sr = kiln_shard_searcher_acquire(s, refresh_after_ms);
    kiln_search_stats *st = kiln_stats_new(p);
    kiln_stats_gather(p, sr->reader, st);
    kiln_stats_finish(p, st);
    kiln_sort_key by_doc = {.by = KILN_SORT_DOC};
    kiln_search_opts o = {.k = 1000, .track_total_hits = -1, .sort = &by_doc, .nsort = 1};
    kiln_search_result res;
    kiln_error err;
    CHECK_INT(kiln_search_execute(p, st, sr->reader, sr->live, &o, &res, &err), 0);
    out[0] = 0;
    for (size_t i = 0; i < res.nhits; i++) {
        kiln_buf id = KILN_BUF_INIT;
        kiln_shard_doc_at(s, res.hits[i].docnum, NULL, &id, NULL);
        snprintf(out + strlen(out), cap - strlen(out), "%s%.*s", i ? "," : "", (int)id.len, id.data);
        kiln_buf_free(&id);
    }
    uint64_t total = res.total;
    kiln_search_result_free(&res);
    kiln_stats_free(st);
    kiln_shard_searcher_release(sr);
    kiln_plan_free(p);
    return total;
}

static uint64_t ids_of(kiln_shard *s, const char *qjs, char *out, size_t cap)
{
    return ids_of_after(s, qjs, out, cap, 0);
}

static size_t nsegments(kiln_shard *s)
{
    kiln_shard_searcher *sr = kiln_shard_searcher_acquire(s, 0);
    size_t n = kiln_reader_nsegments(sr->reader);
    kiln_shard_searcher_release(sr);
    return n;
}

/* ---- the merge parks in the hook until the writer is done ---------------------------------- */

typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int merges, go;
} gate;

static gate the_gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void park_first_merge(void *ctx)
{
    gate *g = ctx;
    pthread_mutex_lock(&g->m);
    if (g->merges++ == 0) {
        pthread_cond_broadcast(&g->c);
        while (!g->go) pthread_cond_wait(&g->c, &g->m);
    }
    pthread_mutex_unlock(&g->m);
}

typedef struct {
    kiln_shard *s;
    int rc;
} maint;

static void *run_maintain(void *arg)
{
    maint *mt = arg;
    kiln_error err;
    mt->rc = kiln_shard_maintain(mt->s, 0, &err);
    return NULL;
}

static void test_writes_during_merge(void)
{
    char dir[256];
    kiln_shard *s = open_searchable(
        dir, sizeof dir, "bgmerge",
        "{\"properties\":{\"t\":{\"type\":\"text\"},\"n\":{\"type\":\"long\"}}}");
    if (!s) return;
    kiln_error err;
    char id[32], src[128];
    for (int seg = 0; seg < 10; seg++) { /* ten segments of 20 docs: the policy wants merges */
        for (int i = 0; i < 20; i++) {
            snprintf(id, sizeof id, "a%02d", seg * 20 + i);
            snprintf(src, sizeof src, "{\"t\":\"common w%d\",\"n\":%d}", i % 3, seg * 20 + i);
            put(s, id, src);
        }
        CHECK_INT(kiln_shard_refresh(s, &err), 0);
    }
    CHECK_INT(nsegments(s), 10);

    kiln_sindex_merge_hook_ctx = &the_gate;
    kiln_sindex_merge_hook = park_first_merge;
    maint mt = {s, -9};
    pthread_t t;
    pthread_create(&t, NULL, run_maintain, &mt);
    pthread_mutex_lock(&the_gate.m);
    while (the_gate.merges == 0) pthread_cond_wait(&the_gate.c, &the_gate.m);
    pthread_mutex_unlock(&the_gate.m);

    /* the merge holds its inputs (the four first segments: a00..a79); meanwhile: */
    for (int i = 0; i < 30; i++) { /* new docs */
        snprintf(id, sizeof id, "b%02d", i);
        put(s, id, "{\"t\":\"common late\"}");
    }
    for (int i = 0; i < 80; i += 4) { /* deletes inside the segments being merged */
        snprintf(id, sizeof id, "a%02d", i);
        del(s, id);
    }
    put(s, "a01", "{\"t\":\"common updated\"}"); /* an update: the old version goes */
    CHECK_INT(kiln_shard_refresh(s, &err), 0);  /* a refresh too */
    char got[8192];
    CHECK_INT(ids_of(s, "{\"match\":{\"t\":\"common\"}}", got, sizeof got), 200 - 20 + 30);
    CHECK(strstr(got, "a00") == NULL);
    CHECK_INT(ids_of(s, "{\"match\":{\"t\":\"updated\"}}", got, sizeof got), 1);

    pthread_mutex_lock(&the_gate.m);
    the_gate.go = 1;
    pthread_cond_broadcast(&the_gate.c);
    pthread_mutex_unlock(&the_gate.m);
    pthread_join(t, NULL);
    kiln_sindex_merge_hook = NULL;
    CHECK_INT(mt.rc, 1); /* it merged */
    CHECK(nsegments(s) <= 8);

    /* the merged segments are searched now: the deleted docs stay deleted */
    CHECK_INT(ids_of(s, "{\"match\":{\"t\":\"common\"}}", got, sizeof got), 200 - 20 + 30);
    for (int i = 0; i < 80; i += 4) {
        snprintf(id, sizeof id, "a%02d,", i);
        if (strstr(got, id)) KT_FAIL("deleted %s came back", id);
    }
    CHECK(strstr(got, "a01") != NULL); /* the update, now the last doc */
    /* w1: 7 per segment of 20, minus 8 deleted and the updated a01 */
    CHECK_INT(ids_of(s, "{\"match\":{\"t\":\"w1\"}}", got, sizeof got), 70 - 8 - 1);
    CHECK_INT(ids_of(s, "{\"match\":{\"t\":\"updated\"}}", got, sizeof got), 1);

    /* and after a restart (segments persisted by flush, the rest re-added) */
    CHECK_INT(kiln_shard_flush(s, &err), 0);
    kiln_shard_close(s);
    s = kiln_shard_open(dir, 0, 1 << 30, KILN_ZCODEC_LZ4, &err);
    CHECK_INT(kiln_shard_search_attach(s, mapping_of, NULL, NULL, &err), 0);
    CHECK_INT(ids_of(s, "{\"match\":{\"t\":\"common\"}}", got, sizeof got), 200 - 20 + 30);
    CHECK(strstr(got, "a04,") == NULL);
    close_searchable(s, dir);
}

/* ---- search idle ------------------------------------------------------------------------- */

static uint64_t refreshes(kiln_shard *s)
{
    kiln_shard_stats st;
    kiln_shard_stats_get(s, &st);
    return st.refreshes;
}

/* A shard no search has used for index.search.idle.after skips its scheduled refreshes; the
 * next search refreshes first (whatever its interval) and sees every write; gets stay
 * realtime. Idleness is given as a threshold (0: idle at once, an hour: not idle), so no
 * timing is assumed. */
static void test_search_idle(void)
{
    char dir[256];
    kiln_shard *s = open_searchable(dir, sizeof dir, "idle",
                                    "{\"properties\":{\"t\":{\"type\":\"text\"}}}");
    if (!s) return;
    char got[8192];
    put(s, "a1", "{\"t\":\"x\"}");
    CHECK_INT(kiln_shard_scheduled_refresh(s, 0, 3600000), 1); /* just opened: not idle */
    CHECK_INT(kiln_shard_scheduled_refresh(s, 0, 3600000), 0); /* nothing pending */
    uint64_t r0 = refreshes(s);
    put(s, "a2", "{\"t\":\"x\"}");
    put(s, "a3", "{\"t\":\"x\"}");
    CHECK_INT(kiln_shard_scheduled_refresh(s, 0, 0), 0); /* idle: skipped */
    CHECK_INT(kiln_shard_scheduled_refresh(s, 0, 0), 0);
    CHECK_INT(refreshes(s), r0);
    kiln_shard_stats st;
    kiln_shard_stats_get(s, &st);
    CHECK_INT(st.search_idle, 1);
    kiln_doc_meta meta;
    CHECK_INT(kiln_shard_get(s, "a3", 2, &meta, NULL), 1); /* realtime */
    /* the search refreshes although its own interval (an hour) has not passed */
    CHECK_INT(ids_of_after(s, "{\"match_all\":{}}", got, sizeof got, 3600000), 3);
    CHECK_STR(got, "a1,a2,a3");
    CHECK_INT(refreshes(s), r0 + 1);
    /* searched just now: active again, scheduled refreshes run */
    put(s, "a4", "{\"t\":\"x\"}");
    CHECK_INT(kiln_shard_scheduled_refresh(s, 0, 3600000), 1);
    put(s, "a5", "{\"t\":\"x\"}");
    CHECK_INT(kiln_shard_scheduled_refresh(s, 0, -1), 1); /* -1: never idle */
    CHECK_INT(ids_of_after(s, "{\"match_all\":{}}", got, sizeof got, -1), 5);

    /* a full write buffer is sealed, but searchable only after a refresh */
    char id[32];
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "b%03d", i);
        put(s, id, "{\"t\":\"y\"}");
    }
    CHECK_INT(kiln_shard_seal_if_over(s, (size_t)1 << 40), 0); /* under the limit */
    CHECK_INT(kiln_shard_seal_if_over(s, 0), 1);
    CHECK_INT(ids_of_after(s, "{\"match_all\":{}}", got, sizeof got, -1), 5);
    CHECK_INT(ids_of_after(s, "{\"match\":{\"t\":\"y\"}}", got, sizeof got, 0), 100);
    close_searchable(s, dir);
}

/* ---- shards in parallel ------------------------------------------------------------------ */

enum { NSHARDS = 4 };

typedef struct {
    kiln_shard *shards[NSHARDS];
    kiln_shard_searcher *sr[NSHARDS];
    kiln_plan *p;
    kiln_search_stats *st;
    kiln_search_opts o;
    kiln_search_result res[NSHARDS];
    int rc[NSHARDS];
} psearch;

static void shard_task(void *ctx, size_t i)
{
    psearch *ps = ctx;
    kiln_search_opts o = ps->o;
    o.shard = (uint32_t)i;
    o.id_ctx = ps->shards[i];
    kiln_error err;
    ps->rc[i] = kiln_search_execute(ps->p, ps->st, ps->sr[i]->reader, ps->sr[i]->live, &o,
                                    &ps->res[i], &err);
}

/* Top 20 over the shards as "total:shard:doc:score;..."; "failed" if a shard failed. Runs on
 * several threads: no CHECK inside (the harness counters are not atomic). */
static void search_all(kiln_shard **shards, kiln_workers *w, const char *qjs, char *out, size_t cap)
{
    psearch ps = {0};
    memcpy(ps.shards, shards, sizeof ps.shards);
    ps.p = plan_of(qjs, the_mapping);
    ps.st = kiln_stats_new(ps.p);
    for (int i = 0; i < NSHARDS; i++) {
        ps.sr[i] = kiln_shard_searcher_acquire(shards[i], -1);
        kiln_stats_gather(ps.p, ps.sr[i]->reader, ps.st);
    }
    kiln_stats_finish(ps.p, ps.st);
    ps.o = (kiln_search_opts){.k = 20, .track_total_hits = 10000};
    kiln_workers_run(w, shard_task, &ps, NSHARDS);
    kiln_search_result merged;
    kiln_search_merge(ps.res, NSHARDS, &ps.o, &merged);
    snprintf(out, cap, "%llu:", (unsigned long long)merged.total);
    for (size_t i = 0; i < merged.nhits; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%u:%u:%.9g;", merged.hits[i].shard,
                 merged.hits[i].docnum, (double)merged.hits[i].score);
    kiln_search_result_free(&merged);
    for (int i = 0; i < NSHARDS; i++) {
        if (ps.rc[i]) snprintf(out, cap, "failed");
        kiln_search_result_free(&ps.res[i]);
        kiln_shard_searcher_release(ps.sr[i]);
    }
    kiln_stats_free(ps.st);
    kiln_plan_free(ps.p);
}

static const char *queries[] = {
    "{\"match\":{\"t\":\"alpha beta\"}}",
    "{\"match_phrase\":{\"t\":\"beta gamma\"}}",
    "{\"bool\":{\"must\":{\"match\":{\"t\":\"delta\"}},\"filter\":{\"range\":{\"n\":{\"gte\":300}}}}}",
    "{\"match_all\":{}}",
};

typedef struct {
    kiln_shard **shards;
    kiln_workers *w;
    char expect[4][4096];
    int mismatches;
} hammer;

static void *hammer_thread(void *arg)
{
    hammer *h = arg;
    char got[4096];
    for (int r = 0; r < 10; r++)
        for (size_t q = 0; q < 4; q++) {
            search_all(h->shards, h->w, queries[q], got, sizeof got);
            if (strcmp(got, h->expect[q])) __atomic_fetch_add(&h->mismatches, 1, __ATOMIC_RELAXED);
        }
    return NULL;
}

static void test_parallel_shards(void)
{
    the_mapping = mapping("{\"properties\":{\"t\":{\"type\":\"text\"},\"n\":{\"type\":\"long\"}}}");
    static const char *w[] = {"alpha", "beta", "gamma", "delta", "eps"};
    char dirs[NSHARDS][256];
    kiln_shard *shards[NSHARDS];
    kiln_error err;
    for (int i = 0; i < NSHARDS; i++) {
        kiln_test_tmpdir(dirs[i], sizeof dirs[i], "pshard");
        shards[i] = kiln_shard_open(dirs[i], (unsigned)i, 1 << 30, KILN_ZCODEC_LZ4, &err);
        kiln_shard_search_attach(shards[i], mapping_of, NULL, NULL, &err);
    }
    char id[32], src[128];
    for (int d = 0; d < 800; d++) {
        snprintf(id, sizeof id, "%d", d);
        snprintf(src, sizeof src, "{\"t\":\"%s %s %s\",\"n\":%d}", w[d % 5], w[(d / 5) % 5],
                 w[(d * 7) % 5], d);
        put(shards[d % NSHARDS], id, src);
        if (d % 150 == 149) kiln_shard_refresh(shards[d % NSHARDS], &err);
    }
    for (int i = 0; i < NSHARDS; i++) kiln_shard_refresh(shards[i], &err);
    hammer h = {.shards = shards, .w = kiln_workers_new(3)};
    for (size_t q = 0; q < 4; q++) { /* sequential (no pool) is the reference */
        search_all(shards, NULL, queries[q], h.expect[q], sizeof h.expect[q]);
        CHECK(strcmp(h.expect[q], "failed") != 0 && strchr(h.expect[q], ';') != NULL);
        char par[4096];
        search_all(shards, h.w, queries[q], par, sizeof par);
        CHECK_STR(par, h.expect[q]);
    }
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, hammer_thread, &h);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    CHECK_INT(h.mismatches, 0);
    kiln_workers_free(h.w);
    for (int i = 0; i < NSHARDS; i++) {
        kiln_shard_close(shards[i]);
        kiln_fs_remove_tree(dirs[i], NULL);
    }
    kiln_mapping_unref(the_mapping);
}

/* The background merger lets segments pile up to 16 while refreshes keep sealing (a bulk
 * load) and merges down to 8 once sealing has stopped for kiln_sindex_busy_ms. */
static void test_paced_merges(void)
{
    char dir[256];
    kiln_shard *s = open_searchable(dir, sizeof dir, "bgpaced",
                                    "{\"properties\":{\"t\":{\"type\":\"text\"}}}");
    if (!s) return;
    kiln_error err;
    int64_t saved = kiln_sindex_busy_ms;
    kiln_sindex_busy_ms = 300;
    char id[32];
    for (int seg = 0; seg < 12; seg++) {
        snprintf(id, sizeof id, "p%02d", seg);
        put(s, id, "{\"t\":\"paced\"}");
        CHECK_INT(kiln_shard_refresh(s, &err), 0);
        CHECK_INT(kiln_shard_maintain(s, 1, &err), 0); /* busy: 12 segments may stay */
    }
    CHECK_INT(nsegments(s), 12);
    CHECK_INT(kiln_shard_maintain(s, 0, &err), 1); /* unpaced, the policy merges at once */
    CHECK(nsegments(s) <= 8);
    for (int seg = 0; seg < 6; seg++) {
        snprintf(id, sizeof id, "q%02d", seg);
        put(s, id, "{\"t\":\"paced\"}");
        CHECK_INT(kiln_shard_refresh(s, &err), 0);
    }
    CHECK_INT(kiln_shard_maintain(s, 1, &err), 0);
    CHECK(nsegments(s) > 8);
    usleep(400 * 1000); /* sealing stopped: the merges catch up */
    CHECK_INT(kiln_shard_maintain(s, 1, &err), 1);
    CHECK(nsegments(s) <= 8);
    char got[4096];
    CHECK_INT(ids_of(s, "{\"match\":{\"t\":\"paced\"}}", got, sizeof got), 18);
    kiln_sindex_busy_ms = saved;
    close_searchable(s, dir);
}

KT_MAIN(KT_CASE(test_writes_during_merge), KT_CASE(test_search_idle),
        KT_CASE(test_parallel_shards), KT_CASE(test_paced_merges))
