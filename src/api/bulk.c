/* _bulk: NDJSON of action lines (index, create, update, delete) each followed by a source line
 * (except delete). Items are applied in order; each gets its own result, one bad item never
 * sinks the others; then one log sync per touched shard makes the whole request durable. */
#include "api/api_int.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/workers.h"

#include <pthread.h>
#include <stdatomic.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Next line of the body: [*line, *line + *len); returns 0 at the end. */
static int kiln__next_line(const char *body, size_t body_len, size_t *pos, const char **line,
                           size_t *len)
{
    while (*pos < body_len) {
        const char *start = body + *pos;
        const char *nl = memchr(start, '\n', body_len - *pos);
        size_t l = nl ? (size_t)(nl - start) : body_len - *pos;
        *pos += l + (nl != NULL);
        size_t t = l;
        while (t && (start[t - 1] == '\r' || start[t - 1] == ' ' || start[t - 1] == '\t'))
            t--;
        size_t s = 0;
        while (s < t && (start[s] == ' ' || start[s] == '\t'))
            s++;
        if (s == t) continue; /* blank lines are allowed between items */
        *line = start + s;
        *len = t - s;
        return 1;
    }
    return 0;
}

typedef struct {
    kiln_index *idx;
    unsigned shard;
    uint64_t lsn;
} kiln__touched;

typedef struct {
    kiln__touched *v;
    size_t n, cap;
} kiln__touched_set;

static void kiln__touch(kiln__touched_set *t, kiln_index *idx, unsigned shard, uint64_t lsn)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].idx == idx && t->v[i].shard == shard) {
            if (lsn > t->v[i].lsn) t->v[i].lsn = lsn;
            return;
        }
    if (t->n == t->cap)
        t->v = kiln_xrealloc(t->v, (t->cap = t->cap ? t->cap * 2 : 8) * sizeof *t->v);
    t->v[t->n++] = (kiln__touched){kiln_index_ref(idx), shard, lsn};
}

static int kiln__op_parse(const char *op, kiln_op_type *out)
{
    static const struct {
        const char *name;
        kiln_op_type op;
    } ops[] = {{"index", KILN_OP_INDEX},
               {"create", KILN_OP_CREATE},
               {"update", KILN_OP_UPDATE},
               {"delete", KILN_OP_DELETE}};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(op, ops[i].name)) return (*out = ops[i].op), 0;
    return -1;
}

/* Reads a well-formed action line from its tape into w (strings borrowed from the tape) with
 * the same rules as the jansson path below; 0 when the line needs that path (an error to word,
 * or a shape it handles). */
static int kiln__action_fast(const kiln_json *a, kiln_write *w, const char **op, const char **index,
                             char idbuf[64])
{
    const kiln_jnode *root = kiln_json_root(a);
    if (root->type != KILN_JSON_OBJECT || root->v.count != 1) return 0;
    const kiln_jnode *meta = kiln_json_child(root);
    *op = kiln_json_key(a, meta);
    if (meta->type != KILN_JSON_OBJECT || kiln__op_parse(*op, &w->op) < 0) return 0;
    const char *op_type = NULL;
    const kiln_jnode *v = kiln_json_child(meta);
    for (uint32_t k = 0; k < meta->v.count; k++, v = kiln_json_next(a, v)) {
        const char *key = kiln_json_key(a, v);
        int str = v->type == KILN_JSON_STRING, integer = v->type == KILN_JSON_INT;
        if (!strcmp(key, "_index")) {
            if (str) *index = kiln_json_string(a, v);
        } else if (!strcmp(key, "_id")) {
            if (str) {
                w->id = kiln_json_string(a, v);
                w->idlen = v->v.s.len;
            } else if (integer) {
                snprintf(idbuf, 64, "%lld", (long long)v->v.i);
                w->id = idbuf;
                w->idlen = strlen(idbuf);
            }
        } else if (!strcmp(key, "routing")) {
            if (str) w->routing = kiln_json_string(a, v);
        } else if (!strcmp(key, "if_seq_no")) {
            if (integer) w->opts.if_seq_no = v->v.i;
        } else if (!strcmp(key, "if_primary_term")) {
            if (integer) w->opts.if_primary_term = v->v.i;
        } else if (!strcmp(key, "op_type")) {
            if (str) op_type = kiln_json_string(a, v);
        }
    }
    if (w->op == KILN_OP_INDEX && op_type && !strcmp(op_type, "create")) {
        w->op = KILN_OP_CREATE; /* {"index": {"op_type": "create"}} is a create, as ES reports */
        *op = "create";
    }
    return 1;
}

static int kiln__bad_action(kiln_resp *resp, size_t lineno, const char *why)
{
    return kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT, "Malformed action/metadata line [%zu], %s",
                          lineno, why);
}

static void kiln__item_error(kiln_buf *b, const char *op, const char *index, const char *id,
                             size_t idlen, const kiln_error *err)
{
    kiln_buf_printf(b, "{\"%s\":{\"_index\":", op);
    kiln_buf_json_cstr(b, index ? index : "");
    kiln_buf_puts(b, ",\"_id\":");
    if (id)
        kiln_buf_json_str(b, id, idlen);
    else
        kiln_buf_puts(b, "null");
    kiln_buf_printf(b, ",\"status\":%d,\"error\":{\"type\":\"%s\",\"reason\":",
                    kiln_code_status(err->code), kiln_code_type(err->code));
    kiln_buf_json_cstr(b, err->reason);
    if (index) {
        kiln_buf_puts(b, ",\"index\":");
        kiln_buf_json_cstr(b, index);
    }
    kiln_buf_puts(b, "}}}");
}

/* ---- items --------------------------------------------------------------------------------
 * The whole body is read first (a malformed line fails the request before any item is
 * applied, as in Elasticsearch), then items are applied in order by one thread while the
 * costly half of each index/create (source parse, mapping check, analysis) is done ahead of it
 * on the node's workers, up to KILN__BULK_WINDOW items ahead. */

#define KILN__BULK_WINDOW 64

typedef struct kiln__item {
    kiln_write w;
    const char *op;     /* the action's name as reported (static) */
    char *index;        /* owned */
    char *id, *routing; /* owned copies behind w.id / w.routing */
    kiln_index *idx;    /* a reference, or NULL with err set */
    kiln_error *err;    /* owned; only when idx is NULL (an item is ~1.3 KB smaller without) */
    atomic_int state; /* 0 unclaimed, 1 being prepared, 2 prepared */
    int fast;         /* prepared: kiln_index_write_prepared applies it */
    struct kiln_sindex_prep *prep;
} kiln__item;

static const char *kiln__op_name(kiln_op_type op)
{
    return op == KILN_OP_CREATE   ? "create"
           : op == KILN_OP_UPDATE ? "update"
           : op == KILN_OP_DELETE ? "delete"
                                  : "index";
}

static char *kiln__dup(const char *s, size_t len)
{
    char *d = kiln_xmalloc(len + 1);
    memcpy(d, s, len);
    d[len] = 0;
    return d;
}

/* Parses every action line (and takes its source line) into items; 0, or -1 with the request's
 * error already in resp. */
static int kiln__parse_items(kiln_req *req, kiln_resp *resp, kiln__item **out, size_t *nout)
{
    const char *def_index = kiln_req_param(req, "index");
    const char *def_routing = kiln_req_query(req, "routing");
    kiln__item *items = NULL;
    size_t n = 0, cap = 0, pos = 0, lineno = 0;
    const char *line;
    size_t len;
    int rc = 0;
    json_t *action = NULL;
    kiln_json action_tape = KILN_JSON_INIT;
    while (kiln__next_line(req->body, req->body_len, &pos, &line, &len)) {
        lineno++;
        kiln_write w = {.opts = KILN_WRITE_OPTS_INIT};
        const char *op = NULL, *index = def_index;
        char idbuf[64];
        /* the common, well-formed action line goes through the tape; anything else (errors to
         * word, duplicate keys jansson tolerates) through jansson as before */
        if (kiln_json_parse(&action_tape, line, len) == 0 &&
            kiln__action_fast(&action_tape, &w, &op, &index, idbuf)) {
            if (!w.routing) w.routing = def_routing;
        } else {
            json_error_t jerr;
            action = json_loadb(line, len, 0, &jerr);
            if (json_is_object(action) && json_object_size(action) == 0) {
                rc = -1;
                kiln__bad_action(resp, lineno, "expected FIELD_NAME but found [END_OBJECT]");
                goto done;
            }
            if (!json_is_object(action) || json_object_size(action) != 1) {
                char why[256];
                snprintf(why, sizeof why,
                         "expected a JSON object with one key (index, create, "
                         "update or delete)%s%s",
                         action ? "" : ": ", action ? "" : jerr.text);
                rc = -1;
                kiln__bad_action(resp, lineno, why);
                goto done;
            }
            op = json_object_iter_key(json_object_iter(action));
            json_t *meta = json_object_iter_value(json_object_iter(action));
            if (kiln__op_parse(op, &w.op) < 0) {
                char why[300];
                snprintf(why, sizeof why,
                         "expected one of [create, delete, index, update] but found [%s]", op);
                rc = -1;
                kiln__bad_action(resp, lineno, why);
                goto done;
            }
            if (!json_is_object(meta)) {
                rc = -1;
                kiln__bad_action(resp, lineno, "expected START_OBJECT after the action name");
                goto done;
            }
            json_t *ji = json_object_get(meta, "_index"), *jid = json_object_get(meta, "_id");
            json_t *jr = json_object_get(meta, "routing");
            json_t *js = json_object_get(meta, "if_seq_no"),
                   *jt = json_object_get(meta, "if_primary_term");
            if (json_is_string(ji)) index = json_string_value(ji);
            if (json_is_string(jid)) {
                w.id = json_string_value(jid);
                w.idlen = json_string_length(jid);
            } else if (json_is_integer(jid)) {
                snprintf(idbuf, 64, "%lld", (long long)json_integer_value(jid));
                w.id = idbuf;
                w.idlen = strlen(idbuf);
            }
            w.routing = json_is_string(jr) ? json_string_value(jr) : def_routing;
            if (json_is_integer(js)) w.opts.if_seq_no = json_integer_value(js);
            if (json_is_integer(jt)) w.opts.if_primary_term = json_integer_value(jt);
            json_t *jop = json_object_get(meta, "op_type");
            if (w.op == KILN_OP_INDEX && json_is_string(jop) &&
                !strcmp(json_string_value(jop), "create"))
                w.op = KILN_OP_CREATE; /* {"index": {"op_type": "create"}} is a create, as ES
                                          reports */
        }
        op = kiln__op_name(w.op);
        if (w.op != KILN_OP_DELETE) {
            if (!kiln__next_line(req->body, req->body_len, &pos, &line, &len)) {
                rc = -1;
                kiln_resp_fail(resp, KILN_E_ILLEGAL_ARGUMENT,
                               "The bulk request must be terminated by a newline [\\n]; "
                               "the [%s] action on line [%zu] has no source line",
                               op, lineno);
                goto done;
            }
            lineno++;
            w.body = line; /* the request body outlives the items */
            w.body_len = len;
        }
        if (!index) {
            rc = -1;
            kiln_resp_fail(resp, KILN_E_ACTION_VALIDATION,
                           "Validation Failed: 1: index is missing;");
            goto done;
        }
        if (n == cap) items = kiln_xrealloc(items, (cap = cap ? cap * 2 : 64) * sizeof *items);
        kiln__item *it = &items[n++];
        memset(it, 0, sizeof *it);
        it->op = op;
        it->index = kiln_xstrdup(index);
        if (w.id) w.id = it->id = kiln__dup(w.id, w.idlen);
        if (w.routing) w.routing = it->routing = kiln_xstrdup(w.routing);
        it->w = w;
        json_decref(action);
        action = NULL;
    }
done:
    json_decref(action);
    kiln_json_dispose(&action_tape);
    *out = items;
    *nout = n;
    return rc;
}

typedef struct kiln__bulk_run {
    kiln__item *items;
    size_t n;
    atomic_size_t claim;   /* next item to prepare */
    atomic_size_t applied; /* items applied so far */
    atomic_int applier;    /* the applier task has started */
    atomic_int preparer;   /* a preparer task has started */
    /* sleeping, woken only when what they wait for happened (a wake per item would cost a
     * context switch per document): */
    atomic_size_t applier_wants; /* the item the applier waits for, SIZE_MAX if none */
    atomic_int preparer_waits;   /* a preparer waits for the window to drain by half */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the applier's */
    kiln_shard *held; /* whose write lock it holds across consecutive prepared items, */
    unsigned held_n;  /* for how many so far */
    kiln_buf out;
    kiln__touched_set touched;
    int errors;
} kiln__bulk_run;

static void kiln__broadcast(kiln__bulk_run *r)
{
    pthread_mutex_lock(&r->mu);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void kiln__prepare_item(kiln__item *it, kiln_json *scratch)
{
    if (it->idx) it->fast = kiln_index_prepare(it->idx, &it->w, scratch, &it->prep);
}

/* Claims and prepares item i if nobody has yet; 1 if it did. */
static int kiln__claim(kiln__bulk_run *r, size_t i, kiln_json *scratch)
{
    size_t c = i;
    if (!atomic_compare_exchange_strong(&r->claim, &c, i + 1)) return 0;
    kiln__prepare_item(&r->items[i], scratch);
    atomic_store(&r->items[i].state, 2);
    if (atomic_load(&r->applier_wants) == i) kiln__broadcast(r);
    return 1;
}

/* Items applied under one hold of their shard's write lock, at most: long enough that two
 * _bulk requests do not hand the lock over for every document, short enough that a search or
 * a get waits well under a millisecond. */
#define KILN__HOLD_ITEMS 32

static void kiln__release(kiln__bulk_run *r)
{
    if (r->held) kiln_shard_write_release(r->held);
    r->held = NULL;
}

/* Takes s's write lock. While another request applies under it, prepares the next items of
 * this one instead of sleeping (the CPU would otherwise idle when the preparers' window is
 * full); blocks only when there is nothing left to prepare within the window. */
static void kiln__hold(kiln__bulk_run *r, kiln_shard *s, kiln_json *scratch)
{
    while (!kiln_shard_write_try_hold(s)) {
        size_t c = atomic_load(&r->claim);
        if (c >= r->n || c >= atomic_load(&r->applied) + KILN__BULK_WINDOW) {
            kiln_shard_write_hold(s);
            return;
        }
        kiln__claim(r, c, scratch);
    }
}

static void kiln__apply_item(kiln__bulk_run *r, kiln__item *it, kiln_json *scratch)
{
    kiln_error err;
    kiln_error_clear(&err);
    int rc;
    if (!it->idx) {
        err = *it->err;
        rc = -1;
    } else if (it->fast) {
        kiln_shard *s = it->idx->shards[it->w.shard];
        if (r->held != s || r->held_n >= KILN__HOLD_ITEMS) {
            kiln__release(r);
            kiln__hold(r, s, scratch);
            r->held = s;
            r->held_n = 0;
        }
        r->held_n++;
        rc = kiln_index_write_prepared(it->idx, &it->w, it->prep, &err);
        it->prep = NULL;
    } else {
        kiln__release(r); /* the other writes take the lock themselves */
        it->w.scratch = scratch;
        rc = kiln_index_write(it->idx, &it->w, &err);
    }
    if (r->out.len) kiln_buf_putc(&r->out, ',');
    if (rc) {
        kiln__item_error(&r->out, it->op, it->index, it->w.id, it->w.id ? it->w.idlen : 0, &err);
        r->errors = 1;
    } else {
        if (it->w.lsn) kiln__touch(&r->touched, it->idx, it->w.shard, it->w.lsn);
        kiln_buf_puts(&r->out, "{\"");
        kiln_buf_puts(&r->out, it->op);
        kiln_buf_puts(&r->out, "\":{");
        kiln__write_result(&r->out, it->idx, &it->w);
        int st = it->w.status; /* an HTTP status: three digits */
        char tail[] = ",\"status\":000}}";
        tail[10] = (char)('0' + st / 100 % 10);
        tail[11] = (char)('0' + st / 10 % 10);
        tail[12] = (char)('0' + st % 10);
        kiln_buf_puts(&r->out, tail);
    }
}

static int kiln__window_open(kiln__bulk_run *r)
{
    size_t c = atomic_load(&r->claim);
    return c >= r->n || c < atomic_load(&r->applied) + KILN__BULK_WINDOW / 2;
}

/* Task 0 applies every item in order, preparing those nobody has claimed; the others prepare
 * ahead of it, up to KILN__BULK_WINDOW items. Nobody waits for a thread that may not be
 * running: the applier waits only for an item being prepared (its preparer is running), a
 * preparer only for the applier once it has started; a preparer that finds the window full
 * before that returns (its thread then runs the applier task, or already does). */
static void kiln__bulk_task(void *ctx, size_t task)
{
    kiln__bulk_run *r = ctx;
    kiln_json scratch = KILN_JSON_INIT;
    if (task == 0) {
        atomic_store(&r->applier, 1);
        for (size_t i = 0; i < r->n; i++) {
            kiln__item *it = &r->items[i];
            if (atomic_load(&r->claim) <= i) {
                kiln__release(r); /* preparing: not under it */
                /* no preparer has started (its task waits for a worker that other requests
                 * keep busy): prepare a hold's worth, so the lock is then taken once for them
                 * all, not once an item behind the others' holds. With a preparer running,
                 * one item: it is only momentarily behind (a batch here cost ~5% of a
                 * two-connection load's CPU) */
                size_t want = atomic_load(&r->preparer) ? 1 : KILN__HOLD_ITEMS;
                size_t upto = r->n - i > want ? i + want : r->n;
                for (size_t c; (c = atomic_load(&r->claim)) < upto;)
                    kiln__claim(r, c, &scratch);
            }
            if (atomic_load(&it->state) != 2) {
                kiln__release(r); /* nobody waits for the lock while we wait */
                pthread_mutex_lock(&r->mu);
                atomic_store(&r->applier_wants, i);
                while (atomic_load(&it->state) != 2)
                    pthread_cond_wait(&r->cv, &r->mu);
                atomic_store(&r->applier_wants, SIZE_MAX);
                pthread_mutex_unlock(&r->mu);
            }
            kiln__apply_item(r, it, &scratch);
            atomic_store(&r->applied, i + 1);
            if (atomic_load(&r->preparer_waits) && kiln__window_open(r)) kiln__broadcast(r);
        }
        kiln__release(r);
        if (atomic_load(&r->preparer_waits)) kiln__broadcast(r);
    } else {
        /* the shard of the last item this preparer prepared: its idle moments go to that
         * shard's background work (compressing stored documents) instead of sleeping */
        kiln_index *aidx = NULL;
        unsigned ashard = 0;
        atomic_store(&r->preparer, 1);
        for (;;) {
            size_t i = atomic_load(&r->claim);
            if (i >= r->n) break;
            if (i >= atomic_load(&r->applied) + KILN__BULK_WINDOW) {
                if (!atomic_load(&r->applier)) break;
                if (aidx && kiln_index_assist(aidx, ashard)) continue;
                pthread_mutex_lock(&r->mu);
                atomic_fetch_add(&r->preparer_waits, 1);
                while (!kiln__window_open(r))
                    pthread_cond_wait(&r->cv, &r->mu);
                atomic_fetch_sub(&r->preparer_waits, 1);
                pthread_mutex_unlock(&r->mu);
                continue;
            }
            if (kiln__claim(r, i, &scratch) && r->items[i].fast) {
                aidx = r->items[i].idx; /* set before, and w.shard by our prepare */
                ashard = r->items[i].w.shard;
            }
        }
        while (aidx && atomic_load(&r->applied) < r->n && kiln_index_assist(aidx, ashard))
            ;
    }
    kiln_json_dispose(&scratch);
}

static int kiln__bulk(kiln_req *req, kiln_resp *resp)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (kiln__refresh_check(req, resp)) return 0;
    kiln__item *items;
    size_t n;
    int rc = 0;
    int bad = kiln__parse_items(req, resp, &items, &n);
    kiln__bulk_run r = {.items = items, .n = n, .applier_wants = SIZE_MAX};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    if (bad) goto done;
    if (n == 0) {
        rc = kiln_resp_fail(resp, KILN_E_ACTION_VALIDATION,
                            "Validation Failed: 1: no requests added;");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        kiln__item *it = &items[i];
        kiln_error e;
        kiln_error_clear(&e);
        it->idx = it->w.op == KILN_OP_DELETE ? kiln_node_get(kiln__node, it->index, &e)
                                             : kiln_node_get_or_create(kiln__node, it->index, &e);
        if (!it->idx) {
            it->err = kiln_xmalloc(sizeof *it->err);
            *it->err = e;
        }
    }
    kiln_buf_reserve(&r.out, n * 200);
    kiln_workers *wk = kiln_node_workers(kiln__node);
    size_t tasks = n < 8 ? 1 : kiln_workers_count(wk) > 1 ? kiln_workers_count(wk) : 2;
    kiln_workers_run(wk, kiln__bulk_task, &r, tasks);
    /* Nothing is acknowledged until every touched shard's log is on disk. */
    for (size_t i = 0; i < r.touched.n; i++) {
        kiln_error err;
        if (kiln_index_sync(r.touched.v[i].idx, r.touched.v[i].shard, r.touched.v[i].lsn, &err)) {
            rc = kiln__reply(resp, &err);
            goto done;
        }
    }
    int forced = 0;
    for (size_t i = 0; i < r.touched.n; i++) {
        int f = kiln__refresh_param(req, resp, r.touched.v[i].idx);
        if (f < 0) goto done;
        forced |= f;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long took = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    kiln_buf *b = &resp->body;
    kiln_buf_reset(b);
    kiln_buf_reserve(b, r.out.len + 64);
    kiln_buf_printf(b, "{\"took\":%ld,\"errors\":%s,\"items\":[", took,
                    r.errors ? "true" : "false");
    kiln_buf_append(b, r.out.data, r.out.len);
    kiln_buf_puts(b, "]}");
    resp->status = 200;
done:
    for (size_t i = 0; i < n; i++) {
        kiln__item *it = &items[i];
        if (it->prep && it->idx) kiln_shard_prep_release(it->idx->shards[it->w.shard], it->prep);
        json_decref(it->w.get_source);
        kiln_index_unref(it->idx);
        free(it->index);
        free(it->err);
        free(it->id);
        free(it->routing);
    }
    free(items);
    for (size_t i = 0; i < r.touched.n; i++)
        kiln_index_unref(r.touched.v[i].idx);
    free(r.touched.v);
    kiln_buf_free(&r.out);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    return rc;
}

static const kiln_route kiln__routes[] = {
    {KILN_POST | KILN_PUT, "/_bulk", kiln__bulk},
    {KILN_POST | KILN_PUT, "/{index}/_bulk", kiln__bulk},
};

const kiln_route *kiln__routes_bulk(size_t *n)
{
    *n = sizeof kiln__routes / sizeof *kiln__routes;
    return kiln__routes;
}
