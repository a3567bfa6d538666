/* The UDF layer without the server: registration checks, binding, calls on JSON documents,
 * statistics across threads, unregistering while other threads call (run under TSan too). */
#include "core/fs.h"
#include "test.h"
#include "udf/udf.h"

#include <pthread.h>
#include <unistd.h>

static const char *WAT_DIR;

/* Compiles a WAT source with wat2wasm into a malloc'd buffer. */
static uint8_t *wat(const char *name, const char *src, size_t *len)
{
    char in[256], out[256], cmd[600];
    snprintf(in, sizeof in, "%s/%s.wat", WAT_DIR, name);
    snprintf(out, sizeof out, "%s/%s.wasm", WAT_DIR, name);
    FILE *f = fopen(in, "w");
    fputs(src, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s -o %s", in, out);
    if (system(cmd) != 0) {
        fprintf(stderr, "wat2wasm failed for %s\n", name);
        exit(2);
    }
    char *data;
    if (kiln_fs_read_all(out, &data, len, NULL)) exit(2);
    return (uint8_t *)data;
}

static json_t *J(const char *s)
{
    json_error_t e;
    return json_loads(s, 0, &e);
}

static const char *PRICE_LE =
    "(module (import \"kiln\" \"get_field_int64\" (func $gi (param i32 i32) (result i64)))\n"
    " (memory (export \"memory\") 1) (data (i32.const 0) \"price\")\n"
    " (func (export \"kiln_abi_version\") (result i32) (i32.const 1))\n"
    " (func (export \"le\") (param $max i64) (result i32)\n"
    "  (i64.le_s (call $gi (i32.const 0) (i32.const 5)) (local.get $max))))";

static kiln_udf_registry *open_registry(char *dir, size_t cap)
{
    kiln_test_tmpdir(dir, cap, "udf");
    kiln_error err;
    kiln_udf_registry *r = kiln_udf_registry_open(dir, &err);
    if (!r) fprintf(stderr, "registry: %s\n", err.reason);
    return r;
}

static kiln_udf *reg(kiln_udf_registry *r, const char *version)
{
    size_t len;
    uint8_t *w = wat("price_le", PRICE_LE, &len);
    json_t *meta = J("{\"function_name\": \"le\", \"parameters\": [{\"name\": \"max\", \"type\": "
                     "\"i64\", \"default\": 100}]}");
    kiln_error err;
    kiln_udf *u = kiln_udf_register(r, "price_le", version, meta, w, len, &err);
    if (!u) fprintf(stderr, "register: %s\n", err.reason);
    json_decref(meta);
    free(w);
    return u;
}

static int call_on(kiln_udf_session *s, const char *doc_json, kiln_udf_result *res)
{
    json_t *doc = J(doc_json);
    kiln_udf_doc d;
    kiln_udf_doc_json_init(&d, doc, "d");
    kiln_error err;
    int rc = kiln_udf_call(s, &d, 0, res, &err);
    json_decref(doc);
    return rc;
}

static void test_bind_and_call(void)
{
    char dir[256];
    kiln_udf_registry *r = open_registry(dir, sizeof dir);
    kiln_udf *u = reg(r, "1.0.0");
    CHECK(u != NULL);
    kiln_error err;
    json_t *p = J("{\"max\": \"50\"}");
    kiln_udf_bound *b = kiln_udf_bind(u, p, &err); /* numeric strings coerce */
    CHECK(b != NULL);
    kiln_udf_session *s = kiln_udf_session_new(b, 0, 0, &err);
    kiln_udf_result res;
    CHECK_INT(call_on(s, "{\"price\": 40}", &res), 0);
    CHECK_INT(res.matched, 1);
    CHECK_INT(call_on(s, "{\"price\": 60}", &res), 0);
    CHECK_INT(res.matched, 0);
    CHECK_INT(call_on(s, "{}", &res), 0); /* missing reads as 0 */
    CHECK_INT(res.matched, 1);
    kiln_udf_session_free(s);
    kiln_udf_bound_free(b);
    json_decref(p);
    p = J("{\"max\": 1.5}");
    CHECK(kiln_udf_bind(u, p, &err) == NULL);
    CHECK(strstr(err.reason, "must be of type [i64]") != NULL);
    json_decref(p);
    json_t *stats = kiln_udf_stats_json(u);
    CHECK_INT(json_integer_value(json_object_get(stats, "calls")), 3);
    json_decref(stats);
    kiln_udf_unref(u);
    kiln_udf_registry_close(r);
    kiln_fs_remove_tree(dir, NULL);
}

/* A batch over JSON documents: each op reads the JSON document at doc->at. */
typedef struct {
    kiln_udf_doc doc;
    json_t *docs[6];
    char ids[6][8];
} batch_docs;

static kiln_udf_doc batch_row(const kiln_udf_doc *doc)
{
    batch_docs *b = doc->impl;
    kiln_udf_doc row;
    kiln_udf_doc_json_init(&row, b->docs[doc->at], b->ids[doc->at]);
    return row;
}
static int batch_resolve(const kiln_udf_doc *doc, const char *p, size_t n, void **h)
{
    kiln_udf_doc row = batch_row(doc);
    return row.ops->resolve(&row, p, n, h);
}
static void batch_value(const kiln_udf_doc *doc, void *h, kiln_udf_value *out)
{
    kiln_udf_doc row = batch_row(doc);
    row.ops->value(&row, h, out);
}
static int batch_count(const kiln_udf_doc *doc, void *h)
{
    kiln_udf_doc row = batch_row(doc);
    return row.ops->count(&row, h);
}
static void batch_release(void *h)
{
    kiln_udf_doc row;
    kiln_udf_doc_json_init(&row, NULL, NULL);
    row.ops->release(h);
}
static const char *batch_id(const kiln_udf_doc *doc, size_t *len)
{
    batch_docs *b = doc->impl;
    *len = strlen(b->ids[doc->at]);
    return b->ids[doc->at];
}
static const kiln_udf_doc_ops batch_ops = {batch_resolve, batch_value, batch_count,
                                           batch_release, batch_id, NULL, NULL};

/* 100 / (price - 13): traps (integer divide by zero) on the document priced 13. */
static const char *DIV_13 =
    "(module (import \"kiln\" \"get_field_int64\" (func $gi (param i32 i32) (result i64)))\n"
    " (memory (export \"memory\") 1) (data (i32.const 0) \"price\")\n"
    " (func (export \"kiln_abi_version\") (result i32) (i32.const 1))\n"
    " (func (export \"f\") (result i32)\n"
    "  (i64.ne (i64.div_s (i64.const 100) (i64.sub (call $gi (i32.const 0) (i32.const 5))\n"
    "   (i64.const 13))) (i64.const 0))))";

static void test_batch(void)
{
    char dir[256];
    kiln_udf_registry *r = open_registry(dir, sizeof dir);
    kiln_udf *u = reg(r, "1.0.0");
    kiln_error err;
    json_t *p = J("{\"max\": 50}");
    kiln_udf_bound *b = kiln_udf_bind(u, p, &err);
    kiln_udf_session *s = kiln_udf_session_new(b, 0, 0, &err);
    static const int prices[6] = {10, 60, 40, 13, 70, 50};
    batch_docs d;
    for (int i = 0; i < 6; i++) {
        char text[40];
        snprintf(text, sizeof text, "{\"price\": %d}", prices[i]);
        d.docs[i] = J(text);
        snprintf(d.ids[i], sizeof d.ids[i], "d%d", i);
    }
    d.doc = (kiln_udf_doc){&batch_ops, NULL, NULL, 0, &d, 0};
    uint8_t matched[6];
    CHECK_INT(kiln_udf_call_batch(s, &d.doc, 0, 6, matched, &err), 6);
    static const uint8_t want[6] = {1, 0, 1, 1, 0, 1};
    for (int i = 0; i < 6; i++) CHECK_INT(matched[i], want[i]);
    kiln_udf_session_free(s);
    kiln_udf_bound_free(b);
    json_t *stats = kiln_udf_stats_json(u);
    CHECK_INT(json_integer_value(json_object_get(stats, "calls")), 6);
    json_decref(stats);

    /* A trap stops the batch on the document that caused it, named in the error. */
    size_t len;
    uint8_t *w = wat("div_13", DIV_13, &len);
    json_t *meta = J("{\"function_name\": \"f\"}");
    kiln_udf *t = kiln_udf_register(r, "div_13", "1.0.0", meta, w, len, &err);
    CHECK(t != NULL);
    b = kiln_udf_bind(t, NULL, &err);
    s = kiln_udf_session_new(b, 0, 0, &err);
    CHECK_INT(kiln_udf_call_batch(s, &d.doc, 0, 6, matched, &err), 3);
    CHECK(strstr(err.reason, "failed on document [d3]") != NULL);
    CHECK(strstr(err.reason, "integer_divide_by_zero") != NULL);
    /* the rest of the batch runs on a fresh instance */
    CHECK_INT(kiln_udf_call_batch(s, &d.doc, 4, 6, matched, &err), 6);
    CHECK_INT(matched[4], 1);
    CHECK_INT(matched[5], 1);
    kiln_udf_session_free(s);
    kiln_udf_bound_free(b);
    stats = kiln_udf_stats_json(t);
    CHECK_INT(json_integer_value(json_object_get(stats, "calls")), 6); /* 3 ok, 1 trap, 2 ok */
    CHECK_INT(json_integer_value(json_object_get(stats, "errors")), 1);
    json_decref(stats);
    for (int i = 0; i < 6; i++) json_decref(d.docs[i]);
    json_decref(meta);
    json_decref(p);
    free(w);
    kiln_udf_unref(t);
    kiln_udf_unref(u);
    kiln_udf_registry_close(r);
    kiln_fs_remove_tree(dir, NULL);
}

/* Binds "name" on its first call of a query (buffer 100, length at 200); f returns length *
 * 256 + first byte, len3 whether the length is 3; badbind binds a handle never given out. */
static const char *BIND =
    "(module (import \"kiln\" \"field_handle\" (func $fh (param i32 i32) (result i32)))\n"
    " (import \"kiln\" \"bind_field_string\" (func $bind (param i32 i32 i32 i32) (result i32)))\n"
    " (memory (export \"memory\") 1) (data (i32.const 0) \"name\")\n"
    " (global $bound (mut i32) (i32.const 0))\n"
    " (func (export \"kiln_abi_version\") (result i32) (i32.const 1))\n"
    " (func $once (if (i32.eqz (global.get $bound)) (then (global.set $bound (i32.const 1))\n"
    "  (drop (call $bind (call $fh (i32.const 0) (i32.const 4)) (i32.const 100) (i32.const 8)\n"
    "   (i32.const 200))))))\n"
    " (func (export \"f\") (result i32) (call $once)\n"
    "  (i32.add (i32.mul (i32.load (i32.const 200)) (i32.const 256)) (i32.load8_u (i32.const 100))))\n"
    " (func (export \"len3\") (result i32) (call $once) (i32.eq (i32.load (i32.const 200)) (i32.const 3)))\n"
    " (func (export \"badbind\") (result i32)\n"
    "  (call $bind (i32.const 99) (i32.const 100) (i32.const 8) (i32.const 200))))";

static kiln_udf_session *bind_session(kiln_udf_registry *r, const char *fn, kiln_udf **u,
                                      kiln_udf_bound **b)
{
    size_t len;
    uint8_t *w = wat("bind", BIND, &len);
    char meta[64], version[16];
    snprintf(meta, sizeof meta, "{\"function_name\": \"%s\"}", fn);
    snprintf(version, sizeof version, "1.0.%d", fn[0] == 'f' ? 0 : fn[0] == 'l' ? 1 : 2);
    json_t *m = J(meta);
    kiln_error err;
    *u = kiln_udf_register(r, "bind", version, m, w, len, &err);
    CHECK(*u != NULL);
    json_decref(m);
    free(w);
    *b = kiln_udf_bind(*u, NULL, &err);
    return kiln_udf_session_new(*b, 0, 0, &err);
}

/* A bound field holds each document's value in every call: single calls, a batch whose first
 * call binds (the rest of it is restaged), a batch after it, and missing values (-1). */
static void test_bound_fields(void)
{
    char dir[256];
    kiln_udf_registry *r = open_registry(dir, sizeof dir);
    kiln_udf *u;
    kiln_udf_bound *b;
    kiln_udf_session *s = bind_session(r, "f", &u, &b);
    kiln_udf_result res;
    CHECK_INT(call_on(s, "{\"name\": \"xyz\"}", &res), 0);
    CHECK_INT(res.raw_i, 3 * 256 + 'x');
    CHECK_INT(call_on(s, "{\"name\": \"hello world\"}", &res), 0);
    CHECK_INT(res.raw_i, 11 * 256 + 'h'); /* full length, bytes up to the buffer's 8 */
    CHECK_INT(call_on(s, "{\"name\": 12}", &res), 0);
    CHECK_INT(res.raw_i, 2 * 256 + '1'); /* numbers as text, as get_field_string */
    CHECK_INT(call_on(s, "{}", &res), 0);
    CHECK_INT(res.raw_i, -256 + '1'); /* missing: -1, the buffer untouched */
    kiln_udf_session_free(s);
    kiln_udf_bound_free(b);
    kiln_udf_unref(u);

    s = bind_session(r, "len3", &u, &b);
    static const char *names[6] = {"abc", "xy", NULL, "abcd", "qqq", "abc"};
    batch_docs d;
    for (int i = 0; i < 6; i++) {
        char text[40];
        snprintf(text, sizeof text, names[i] ? "{\"name\": \"%s\"}" : "{}", names[i]);
        d.docs[i] = J(text);
        snprintf(d.ids[i], sizeof d.ids[i], "d%d", i);
    }
    d.doc = (kiln_udf_doc){&batch_ops, NULL, NULL, 0, &d, 0};
    uint8_t matched[6];
    kiln_error err;
    for (int round = 0; round < 2; round++) { /* binds in call 0, then bound from the start */
        memset(matched, 9, sizeof matched);
        CHECK_INT(kiln_udf_call_batch(s, &d.doc, 0, 6, matched, &err), 6);
        static const uint8_t want[6] = {1, 0, 0, 0, 1, 1};
        for (int i = 0; i < 6; i++) CHECK_INT(matched[i], want[i]);
    }
    kiln_udf_session_free(s);
    kiln_udf_bound_free(b);
    kiln_udf_unref(u);

    s = bind_session(r, "badbind", &u, &b);
    CHECK_INT(call_on(s, "{\"name\": \"x\"}", &res), -1);
    kiln_udf_session_free(s);
    kiln_udf_bound_free(b);
    kiln_udf_unref(u);
    for (int i = 0; i < 6; i++) json_decref(d.docs[i]);
    kiln_udf_registry_close(r);
    kiln_fs_remove_tree(dir, NULL);
}

typedef struct {
    kiln_udf_registry *r;
    int calls, failures;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    kiln_error err;
    for (int round = 0; round < 20; round++) {
        kiln_udf *u = kiln_udf_get(a->r, "price_le", NULL, &err);
        if (!u) continue; /* between an unregister and the next register */
        kiln_udf_bound *b = kiln_udf_bind(u, NULL, &err);
        kiln_udf_unref(u); /* the bound UDF keeps its own reference */
        kiln_udf_session *s = kiln_udf_session_new(b, 0, 0, &err);
        for (int i = 0; i < 50; i++) {
            kiln_udf_result res;
            if (call_on(s, "{\"price\": 7}", &res) || !res.matched) a->failures++;
            a->calls++;
        }
        kiln_udf_session_free(s);
        kiln_udf_bound_free(b);
    }
    return NULL;
}

/* Threads call the latest version while versions come and go: no crash, no failed call, and
 * statistics add up across threads. */
static void test_threads_and_unregister(void)
{
    char dir[256];
    kiln_udf_registry *r = open_registry(dir, sizeof dir);
    kiln_udf *first = reg(r, "1.0.0");
    pthread_t t[3];
    worker_arg a[3];
    for (int i = 0; i < 3; i++) {
        a[i] = (worker_arg){r, 0, 0};
        pthread_create(&t[i], NULL, worker, &a[i]);
    }
    kiln_error err;
    kiln_udf *second = reg(r, "1.1.0");
    CHECK_INT(kiln_udf_unregister(r, "price_le", "1.0.0", &err), 0);
    CHECK_INT(kiln_udf_unregister(r, "price_le", "1.1.0", &err), 0);
    kiln_udf *third = reg(r, "2.0.0");
    int calls = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(a[i].failures, 0);
        calls += a[i].calls;
    }
    CHECK(calls > 0);
    long counted = 0;
    kiln_udf *all[3] = {first, second, third};
    for (int i = 0; i < 3; i++) {
        json_t *s = kiln_udf_stats_json(all[i]);
        counted += (long)json_integer_value(json_object_get(s, "calls"));
        json_decref(s);
        kiln_udf_unref(all[i]);
    }
    CHECK_INT(counted, calls);
    kiln_udf_registry_close(r);
    kiln_fs_remove_tree(dir, NULL);
}

int main(void)
{
    char tmp[] = "/tmp/kiln-test-wat-XXXXXX";
    WAT_DIR = mkdtemp(tmp);
    static const kiln_test_case cases[] = {KT_CASE(test_bind_and_call), KT_CASE(test_batch),
                                           KT_CASE(test_bound_fields),
                                           KT_CASE(test_threads_and_unregister)};
    int rc = kiln_test_run(cases, sizeof cases / sizeof cases[0]);
    kiln_fs_remove_tree(tmp, NULL);
    return rc;
}
