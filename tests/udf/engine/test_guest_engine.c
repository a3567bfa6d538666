/* The guest modules (examples/udfs, tests/udf/fixtures) through Kiln's real WebAssembly
 * engine: each passes the engine's pre-checks, compiles at both tiers and behaves as
 * documented, against a stub of the ABI v1 host functions over a tiny in-memory document.
 * The server's own host functions (src/udf) are tested there; this checks the guest side.
 * Also prints the per-call cost of string_distance on a 9-character pair. */
#include "kiln_wasm.h"
#include "wtest.h"

#include <math.h>
#include <time.h>

#ifndef KILN_UDF_DIR
#error "KILN_UDF_DIR must point at the built modules"
#endif

/* ---- A document and query parameters: flat (path, value) pairs ------------------------ */
typedef struct {
  const char *path;
  const char *str; /* string value, or NULL for a number */
  double num;
} kv;

typedef struct {
  const kv *fields;
  int nfields;
  const kv *params;
  int nparams;
  double score;
  const char *handles[16];
  int nhandles;
  char logs[8][128];
  int nlogs;
} stub_doc;

static const kv *find(const kv *t, int n, kiln_wasm_ctx *ctx, int32_t p, int32_t len) {
  const char *s = kiln_wasm_ctx_mem(ctx, (uint32_t)p, (uint32_t)len);
  if (!s) {
    kiln_wasm_ctx_fail(ctx, "bad path range");
    return NULL;
  }
  for (int i = 0; i < n; i++)
    if ((int32_t)strlen(t[i].path) == len && !memcmp(t[i].path, s, (size_t)len))
      return &t[i];
  return NULL;
}

static int32_t put_str(kiln_wasm_ctx *ctx, const kv *v, int32_t out, int32_t cap) {
  char *d = kiln_wasm_ctx_mem(ctx, (uint32_t)out, (uint32_t)cap);
  if (!d) {
    kiln_wasm_ctx_fail(ctx, "bad output range");
    return -1;
  }
  if (!v)
    return -1;
  char tmp[64];
  const char *s = v->str;
  if (!s) {
    snprintf(tmp, sizeof tmp, "%.17g", v->num);
    s = tmp;
  }
  int32_t n = (int32_t)strlen(s);
  memcpy(d, s, (size_t)(n < cap ? n : cap));
  return n;
}

#define DOC(ctx) ((stub_doc *)kiln_wasm_ctx_user(ctx))
#define F(ctx, p, n) find(DOC(ctx)->fields, DOC(ctx)->nfields, ctx, p, n)
#define P(ctx, p, n) find(DOC(ctx)->params, DOC(ctx)->nparams, ctx, p, n)

static int32_t h_get_field_string(kiln_wasm_ctx *c, int32_t p, int32_t n, int32_t o, int32_t cap) {
  return put_str(c, F(c, p, n), o, cap);
}
static int64_t h_get_field_int64(kiln_wasm_ctx *c, int32_t p, int32_t n) {
  const kv *v = F(c, p, n);
  return v && !v->str ? (int64_t)v->num : 0;
}
static double h_get_field_float64(kiln_wasm_ctx *c, int32_t p, int32_t n) {
  const kv *v = F(c, p, n);
  return v && !v->str ? v->num : NAN;
}
static int32_t h_get_field_bool(kiln_wasm_ctx *c, int32_t p, int32_t n) {
  const kv *v = F(c, p, n);
  return v && !v->str && v->num != 0;
}
static int32_t h_has_field(kiln_wasm_ctx *c, int32_t p, int32_t n) { return F(c, p, n) != NULL; }
static int32_t h_get_field_count(kiln_wasm_ctx *c, int32_t p, int32_t n) {
  const char *s = kiln_wasm_ctx_mem(c, (uint32_t)p, (uint32_t)n);
  if (!s) {
    kiln_wasm_ctx_fail(c, "bad path range");
    return 0;
  }
  stub_doc *d = DOC(c);
  int32_t k = 0;
  for (int i = 0; i < d->nfields; i++) {
    const char *q = d->fields[i].path;
    if (!strncmp(q, s, (size_t)n) && (q[n] == 0 || q[n] == '['))
      k++;
  }
  return k;
}
static int32_t h_get_document_id(kiln_wasm_ctx *c, int32_t o, int32_t cap) {
  static const kv id = {"_id", "doc-1", 0};
  return put_str(c, &id, o, cap);
}
static double h_get_score(kiln_wasm_ctx *c) { return DOC(c)->score; }
static void h_log(kiln_wasm_ctx *c, int32_t level, int32_t p, int32_t n) {
  const char *s = kiln_wasm_ctx_mem(c, (uint32_t)p, (uint32_t)n);
  if (!s) {
    kiln_wasm_ctx_fail(c, "bad log range");
    return;
  }
  stub_doc *d = DOC(c);
  if (d->nlogs < 8)
    snprintf(d->logs[d->nlogs++], 128, "%d %.*s", level, (int)n, s);
}
static int32_t h_get_param_string(kiln_wasm_ctx *c, int32_t p, int32_t n, int32_t o, int32_t cap) {
  return put_str(c, P(c, p, n), o, cap);
}
static int64_t h_get_param_int64(kiln_wasm_ctx *c, int32_t p, int32_t n) {
  const kv *v = P(c, p, n);
  return v && !v->str ? (int64_t)v->num : 0;
}
static double h_get_param_float64(kiln_wasm_ctx *c, int32_t p, int32_t n) {
  const kv *v = P(c, p, n);
  return v && !v->str ? v->num : NAN;
}
static int32_t h_get_param_bool(kiln_wasm_ctx *c, int32_t p, int32_t n) {
  const kv *v = P(c, p, n);
  return v && !v->str && v->num != 0;
}
static int32_t h_has_param(kiln_wasm_ctx *c, int32_t p, int32_t n) { return P(c, p, n) != NULL; }
static int32_t h_field_handle(kiln_wasm_ctx *c, int32_t p, int32_t n) {
  const kv *v = F(c, p, n);
  stub_doc *d = DOC(c);
  if (!v || d->nhandles == 16)
    return -1; /* the stub only resolves present fields */
  d->handles[d->nhandles] = v->path;
  return d->nhandles++;
}
static const kv *H(kiln_wasm_ctx *c, int32_t h) {
  stub_doc *d = DOC(c);
  if (h < 0 || h >= d->nhandles) {
    kiln_wasm_ctx_fail(c, "bad handle");
    return NULL;
  }
  for (int i = 0; i < d->nfields; i++)
    if (!strcmp(d->fields[i].path, d->handles[h]))
      return &d->fields[i];
  return NULL;
}
static int32_t h_get_field_string_h(kiln_wasm_ctx *c, int32_t h, int32_t o, int32_t cap) {
  return put_str(c, H(c, h), o, cap);
}
static int64_t h_get_field_int64_h(kiln_wasm_ctx *c, int32_t h) {
  const kv *v = H(c, h);
  return v && !v->str ? (int64_t)v->num : 0;
}
static double h_get_field_float64_h(kiln_wasm_ctx *c, int32_t h) {
  const kv *v = H(c, h);
  return v && !v->str ? v->num : NAN;
}
static int32_t h_has_field_h(kiln_wasm_ctx *c, int32_t h) { return H(c, h) != NULL; }
/* Writes the value once: these calls never change document within an instance (the server
 * writes bound fields before every call through the engine's batch inputs). */
static int32_t h_bind_field_string(kiln_wasm_ctx *c, int32_t h, int32_t buf, int32_t cap,
                                   int32_t len_at) {
  const kv *v = H(c, h);
  int32_t *len = kiln_wasm_ctx_mem(c, (uint32_t)len_at, 4);
  if (!len) {
    kiln_wasm_ctx_fail(c, "bad length range");
    return -1;
  }
  int32_t n = put_str(c, v, buf, cap);
  memcpy(len, &n, 4);
  return 0;
}

#define HF(name, sig) {"kiln", #name, sig, (void (*)(void))h_##name}
static const kiln_wasm_host_fn host_table[] = {
    HF(get_field_string, "iiii:i"), HF(get_field_int64, "ii:I"),    HF(get_field_float64, "ii:F"),
    HF(get_field_bool, "ii:i"),     HF(has_field, "ii:i"),          HF(get_field_count, "ii:i"),
    HF(get_document_id, "ii:i"),    HF(get_score, ":F"),            HF(log, "iii:"),
    HF(get_param_string, "iiii:i"), HF(get_param_int64, "ii:I"),    HF(get_param_float64, "ii:F"),
    HF(get_param_bool, "ii:i"),     HF(has_param, "ii:i"),          HF(field_handle, "ii:i"),
    HF(get_field_string_h, "iii:i"), HF(get_field_int64_h, "i:I"),  HF(get_field_float64_h, "i:F"),
    HF(has_field_h, "i:i"),         HF(bind_field_string, "iiii:i"),
};

/* ---- Helpers -------------------------------------------------------------------------- */
static kiln_wasm_module *load(const char *rel, int tier1, kiln_wasm_error *err) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", KILN_UDF_DIR, rel);
  size_t n;
  uint8_t *b = wtest_read(path, &n);
  kiln_wasm_limits lim = {.tier1 = tier1, .fuel = 1000000};
  kiln_wasm_module *m = kiln_wasm_load(b, n, &lim, err);
  free(b);
  return m;
}

static kiln_wasm_module *must_load(const char *rel, int tier1) {
  kiln_wasm_error err = {0};
  kiln_wasm_module *m = load(rel, tier1, &err);
  if (!m) {
    fprintf(stderr, "%s: load failed: %s\n", rel, err.msg);
    wtest_failures++;
    return NULL;
  }
  /* Every module declares ABI version 1. */
  const kiln_wasm_export *v = kiln_wasm_export_find(m, "kiln_abi_version");
  CHECK(v != NULL);
  if (v && strstr(rel, "abi_version_99") == NULL) {
    kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
    kiln_wasm_val r;
    kiln_wasm_trap t;
    CHECK(in && kiln_wasm_call(in, v, NULL, &r, &t) == 0 && r.i32 == 1);
    if (in)
      kiln_wasm_release(in);
  }
  return m;
}

/* Calls export `name` with args on a fresh instance bound to doc; returns the status. */
static int call(kiln_wasm_module *m, const char *name, stub_doc *doc, const kiln_wasm_val *args,
                kiln_wasm_val *res, kiln_wasm_trap *trap) {
  kiln_wasm_error err = {0};
  const kiln_wasm_export *ex = kiln_wasm_export_find(m, name);
  if (!ex) {
    fprintf(stderr, "no export %s\n", name);
    wtest_failures++;
    return -100;
  }
  kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
  if (!in)
    return -101;
  kiln_wasm_set_user(in, doc);
  int rc = kiln_wasm_call(in, ex, args, res, trap);
  kiln_wasm_release(in);
  return rc;
}

static int32_t sd(kiln_wasm_module *m, const char *value, const char *target, int32_t max) {
  kv f[] = {{"name", value, 0}};
  kv p[] = {{"field", "name", 0}, {"target", target, 0}, {"max_distance", NULL, max}};
  stub_doc d = {.fields = f, .nfields = 1, .params = p, .nparams = 3};
  kiln_wasm_val a = {.i32 = max}, r = {0};
  kiln_wasm_trap t;
  int rc = call(m, "calculate_distance", &d, &a, &r, &t);
  if (rc) {
    fprintf(stderr, "string_distance trapped: %s\n", t.msg);
    wtest_failures++;
  }
  return r.i32;
}

static int32_t sd_distance(kiln_wasm_module *m, const char *a, const char *b) {
  for (int32_t k = 0; k < 200; k++)
    if (sd(m, a, b, k))
      return k;
  return -1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void test_string_distance(int tier1) {
  kiln_wasm_module *m = must_load("string_distance.wasm", tier1);
  if (!m)
    return;
  /* Each sd() call acquires an instance from this thread's pool and releases it: the same
   * instance comes back with its memory restored, so the UDF reads the new parameters (it
   * caches them for the rest of a query). Changing targets checks that reset. */
  CHECK_EQ(sd_distance(m, "kitten", "sitting"), 3);
  CHECK_EQ(sd_distance(m, "iPhone 15", "iPhone 14"), 1);
  CHECK_EQ(sd_distance(m, "", ""), 0);
  CHECK_EQ(sd_distance(m, "", "abc"), 3);
  CHECK_EQ(sd_distance(m, "caf\xc3\xa9", "cafe"), 1);
  CHECK_EQ(sd_distance(m, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xe6\x97\xa5\xe6\x9c\xac"), 1);
  char a[201], b[201];
  for (int i = 0; i < 200; i++)
    a[i] = b[i] = (char)('a' + i % 26);
  a[200] = b[200] = 0;
  b[10] = 'X', b[150] = 'Y';
  CHECK_EQ(sd_distance(m, a, b), 2); /* 200-char target: the dynamic-programming fallback */
  CHECK_EQ(sd_distance(m, a, b + 100), 101); /* 100 deletions + Y */

  /* Per-call cost, one instance, same target (the pattern is compiled once). */
  kv f[] = {{"name", "iPhone 15", 0}};
  kv p[] = {{"field", "name", 0}, {"target", "iPhone 14", 0}};
  stub_doc d = {.fields = f, .nfields = 1, .params = p, .nparams = 2};
  kiln_wasm_error err = {0};
  kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
  const kiln_wasm_export *ex = kiln_wasm_export_find(m, "calculate_distance");
  if (in && ex) {
    kiln_wasm_set_user(in, &d);
    kiln_wasm_val arg = {.i32 = 3}, r;
    kiln_wasm_trap t;
    int ok = 1;
    enum { N = 200000 };
    uint64_t t0 = now_ns();
    for (int i = 0; i < N; i++)
      ok &= kiln_wasm_call(in, ex, &arg, &r, &t) == 0 && r.i32 == 1;
    uint64_t t1 = now_ns();
    CHECK(ok);
    printf("string_distance, tier %d: %.1f ns per call (9 chars, stub host, 1 field read; parameters read on the first call)\n",
           kiln_wasm_module_tier(m), (double)(t1 - t0) / N);
    kiln_wasm_release(in);
  }
  kiln_wasm_module_free(m);
}

/* Prints the per-call cost of export `name` (tier 1) to put string_distance's in context. */
static void time_export(const char *rel, const char *name, stub_doc *d, const kiln_wasm_val *args) {
  kiln_wasm_module *m = must_load(rel, 2);
  if (!m)
    return;
  kiln_wasm_error err = {0};
  kiln_wasm_instance *in = kiln_wasm_acquire(m, &err);
  const kiln_wasm_export *ex = kiln_wasm_export_find(m, name);
  if (in && ex) {
    kiln_wasm_set_user(in, d);
    kiln_wasm_val r;
    kiln_wasm_trap t;
    enum { N = 200000 };
    uint64_t t0 = now_ns();
    for (int i = 0; i < N; i++)
      kiln_wasm_call(in, ex, args, &r, &t);
    printf("%s %s, tier %d: %.1f ns per call\n", rel, name, kiln_wasm_module_tier(m), (double)(now_ns() - t0) / N);
  }
  if (in)
    kiln_wasm_release(in);
  kiln_wasm_module_free(m);
}

static void test_other_examples(void) {
  kiln_wasm_val a[2], r;
  kiln_wasm_trap t;
  kiln_wasm_module *m = must_load("popularity_boost.wasm", 0);
  if (m) {
    kv f[] = {{"rating", NULL, 4.5}, {"stock", NULL, 10}};
    stub_doc d = {.fields = f, .nfields = 2, .score = 2};
    a[0].f64 = 1;
    CHECK_EQ(call(m, "popularity_boost", &d, a, &r, &t), 0);
    CHECK(fabs(r.f64 - 2 * (1 + log1p(4.5 * log1p(10)))) < 1e-12);
    kiln_wasm_module_free(m);
  }
  m = must_load("popularity_boost.wasm", 0);
  if (m) { /* stock missing: its handle stays -1 and reads as missing, no trap */
    kv f[] = {{"rating", NULL, 4.5}};
    stub_doc d = {.fields = f, .nfields = 1, .score = 2};
    a[0].f64 = 1;
    CHECK_EQ(call(m, "popularity_boost", &d, a, &r, &t), 0);
    CHECK(r.f64 == 2);
    kiln_wasm_module_free(m);
  }
  m = must_load("tag_match.wasm", 0);
  if (m) {
    kv f[] = {{"tags[0]", "wireless", 0}, {"tags[1]", "Bluetooth", 0}};
    kv p[] = {{"tags", "bluetooth, usb, wireless", 0}};
    stub_doc d = {.fields = f, .nfields = 2, .params = p, .nparams = 1};
    a[0].i32 = 2;
    CHECK_EQ(call(m, "tag_match", &d, a, &r, &t), 0);
    CHECK_EQ(r.i32, 1);
    a[0].i32 = 3;
    CHECK_EQ(call(m, "tag_match", &d, a, &r, &t), 0);
    CHECK_EQ(r.i32, 0);
    kiln_wasm_module_free(m);
  }
  m = must_load("wat_min_rating.wasm", 0);
  if (m) {
    kv f[] = {{"rating", NULL, 4.2}};
    stub_doc d = {.fields = f, .nfields = 1};
    a[0].f64 = 4;
    CHECK_EQ(call(m, "min_rating", &d, a, &r, &t), 0);
    CHECK_EQ(r.i32, 1);
    kiln_wasm_module_free(m);
  }
}

static void test_fixtures(void) {
  kiln_wasm_error err = {0};
  kiln_wasm_val a[2], r;
  kiln_wasm_trap t;
  stub_doc empty = {0};

  /* Rejected at load by the engine: not ABI functions. */
  CHECK(load("fixtures/unknown_import.wasm", 0, &err) == NULL);
  CHECK_STR_HAS(err.msg, "get_field_magic");
  CHECK(load("fixtures/wrong_import_sig.wasm", 0, &err) == NULL);
  CHECK_STR_HAS(err.msg, "get_score");

  /* Loaded by the engine; the registry (src/udf) rejects them by their exports. */
  const char *registry_level[] = {"no_abi_version", "abi_version_99", "bad_return"};
  for (size_t i = 0; i < 3; i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "fixtures/%s.wasm", registry_level[i]);
    kiln_wasm_module *m = load(rel, 0, &err);
    CHECK(m != NULL);
    if (m) {
      const kiln_wasm_export *v = kiln_wasm_export_find(m, "kiln_abi_version");
      CHECK(i == 0 ? v == NULL : v != NULL);
      kiln_wasm_module_free(m);
    }
  }

  kiln_wasm_module *m = must_load("fixtures/all_imports.wasm", 0);
  if (m) {
    kv f[] = {{"x", NULL, 1}};
    stub_doc d = {.fields = f, .nfields = 1};
    CHECK_EQ(call(m, "filter", &d, NULL, &r, &t), 0);
    CHECK_EQ(r.i32, 1);
    kiln_wasm_module_free(m);
  }
  if ((m = must_load("fixtures/filter_ge.wasm", 0))) {
    kv f[] = {{"n", NULL, 10}};
    stub_doc d = {.fields = f, .nfields = 1};
    a[0].i64 = 10;
    CHECK_EQ(call(m, "filter", &d, a, &r, &t), 0);
    CHECK_EQ(r.i32, 1);
    a[0].i64 = 11;
    CHECK_EQ(call(m, "filter", &d, a, &r, &t), 0);
    CHECK_EQ(r.i32, 0);
    kiln_wasm_module_free(m);
  }
  if ((m = must_load("fixtures/filter_param_eq.wasm", 0))) {
    kv f[] = {{"color", "red", 0}};
    kv p[] = {{"field", "color", 0}, {"value", "red", 0}};
    stub_doc d = {.fields = f, .nfields = 1, .params = p, .nparams = 2};
    CHECK_EQ(call(m, "filter", &d, NULL, &r, &t), 0);
    CHECK_EQ(r.i32, 1);
    kiln_wasm_module_free(m);
  }
  if ((m = must_load("fixtures/scorer.wasm", 0))) {
    kv f[] = {{"boost", NULL, 0.5}};
    stub_doc d = {.fields = f, .nfields = 1, .score = 3};
    a[0].f64 = 2;
    CHECK_EQ(call(m, "score", &d, a, &r, &t), 0);
    CHECK(r.f64 == 6.5);
    kiln_wasm_module_free(m);
  }
  if ((m = must_load("fixtures/handles.wasm", 0))) {
    kv f[] = {{"price", NULL, 10}};
    stub_doc d = {.fields = f, .nfields = 1};
    a[0].f64 = 9.5;
    CHECK_EQ(call(m, "filter", &d, a, &r, &t), 0);
    CHECK_EQ(r.i32, 1);
    stub_doc none = {0}; /* "price" cannot be resolved: -1, no match, no trap */
    CHECK_EQ(call(m, "filter", &none, a, &r, &t), 0);
    CHECK_EQ(r.i32, 0);
    kiln_wasm_module_free(m);
  }
  if ((m = must_load("fixtures/trap.wasm", 0))) {
    CHECK_EQ(call(m, "filter", &empty, NULL, &r, &t), KILN_WASM_ETRAP);
    CHECK_EQ(t.kind, KILN_TRAP_UNREACHABLE);
    CHECK_EQ(call(m, "div0", &empty, NULL, &r, &t), KILN_WASM_ETRAP);
    CHECK_EQ(t.kind, KILN_TRAP_DIV_BY_ZERO);
    kiln_wasm_module_free(m);
  }
  if ((m = must_load("fixtures/infinite_loop.wasm", 0))) {
    CHECK_EQ(call(m, "filter", &empty, NULL, &r, &t), KILN_WASM_ETRAP);
    CHECK(t.kind == KILN_TRAP_FUEL_EXHAUSTED || t.kind == KILN_TRAP_DEADLINE);
    CHECK_EQ(call(m, "recurse", &empty, NULL, &r, &t), KILN_WASM_ETRAP);
    CHECK(t.kind == KILN_TRAP_STACK_EXHAUSTED || t.kind == KILN_TRAP_FUEL_EXHAUSTED);
    kiln_wasm_module_free(m);
  }
  if ((m = must_load("fixtures/bad_pointer.wasm", 0))) {
    kv f[] = {{"name", "x", 0}};
    stub_doc d = {.fields = f, .nfields = 1};
    const char *names[] = {"bad_path", "bad_out", "bad_log", "bad_docid"};
    for (int i = 0; i < 4; i++) {
      CHECK_EQ(call(m, names[i], &d, NULL, &r, &t), KILN_WASM_ETRAP);
      CHECK_EQ(t.kind, KILN_TRAP_HOST);
    }
    kiln_wasm_module_free(m);
  }
  if ((m = must_load("fixtures/logging.wasm", 0))) {
    stub_doc d = {0};
    CHECK_EQ(call(m, "filter", &d, NULL, &r, &t), 0);
    CHECK_EQ(d.nlogs, 2);
    CHECK_STR_HAS(d.logs[0], "1 hello from udf");
    CHECK_STR_HAS(d.logs[1], "3 second line");
    kiln_wasm_module_free(m);
  }
  if ((m = must_load("fixtures/memory_grow.wasm", 0))) {
    a[0].i32 = 1000;
    CHECK_EQ(call(m, "grow", &empty, a, &r, &t), 0);
    CHECK_EQ(r.i32, -1);
    a[0].i32 = 1;
    CHECK_EQ(call(m, "grow", &empty, a, &r, &t), 0);
    CHECK_EQ(r.i32, 1);
    kiln_wasm_module_free(m);
  }
}

int main(void) {
  kiln_wasm_error err = {0};
  if (kiln_wasm_host_register(host_table, sizeof host_table / sizeof host_table[0], &err)) {
    fprintf(stderr, "host_register: %s\n", err.msg);
    return 1;
  }
  test_fixtures();
  test_other_examples();
  test_string_distance(0); /* tier 0 (tcc) */
  test_string_distance(2); /* tier 1 (cc -O2), waited for */
  {
    kv f[] = {{"n", NULL, 10}};
    stub_doc d = {.fields = f, .nfields = 1};
    kiln_wasm_val a = {.i64 = 5};
    time_export("fixtures/bad_return.wasm", "ok", &d, NULL); /* no host call */
    time_export("fixtures/filter_ge.wasm", "filter", &d, &a); /* one host call */
    kv fp[] = {{"price", NULL, 2.5}};
    stub_doc dp = {.fields = fp, .nfields = 1};
    kiln_wasm_val n = {.i32 = 100};
    time_export("fixtures/bench_reads.wasm", "by_name", &dp, &n);   /* 100 reads by name */
    time_export("fixtures/bench_reads.wasm", "by_handle", &dp, &n); /* 100 reads by handle */
  }
  kiln_wasm_thread_cleanup();
  if (wtest_failures) {
    fprintf(stderr, "%d failure(s)\n", wtest_failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}
