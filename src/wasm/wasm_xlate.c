/* Kiln's tier-0 translator: validates the stripped module (type stack per the spec,
 * unreachable code included) and emits compact C in one pass per function. Runs in
 * process on hostile bytes, so every read is bounds-checked, every count capped and
 * nothing recurses on nesting depth. The C keeps wasm2c 1.0.32's instance layout (tier
 * 1 swaps its trampolines in under instances tier 0 made; wasm_module.c compares the
 * layouts before swapping) and wasm2c's semantics as Kiln instruments them: fuel at
 * function entry and loop headers, the stack-limit check at entry, the same trap codes,
 * guard-page memory accesses (or explicit checks). What it does not implement is
 * reported as "unsupported" and the caller falls back to wasm2c. */
#include "wasm_xlate.h"

#include "wasm_cgen.h"

#include <wasm-rt.h>

#include "kiln_abi.h"

enum { TI32, TI64, TF32, TF64, TFUNCREF, TEXTERNREF, TUNK = 0xff };
enum { FBLOCK, FLOOP, FIF, FELSE, FFUNC };

#define MAX_STACK 20000 /* value stack slots per function: deeper goes to wasm2c */

typedef struct {
    uint8_t kind, one;
    bool unreach, live0, used;
    int64_t bt; /* -1: [] -> []; -2: [] -> [one]; >= 0: type index */
    uint32_t height, label;
} frame;

typedef struct {
    uint8_t op, t; /* 0x41..0x44 const, 0x23 global.get, 0xd0 ref.null, 0xd2 ref.func */
    uint64_t bits; /* constant, or the global/function index */
} cexpr;

typedef struct {
    uint8_t vt, mut;
    cexpr init;
} glob;

enum { SEG_ACTIVE, SEG_PASSIVE, SEG_DECLARED };
typedef struct {
    uint8_t mode, t;
    uint32_t bit; /* passive: its "dropped" bit in F (wasm2c's bool bitfield) */
    uint32_t table;
    cexpr off;
    uint32_t n;
    int64_t *items; /* function index, or -1 for ref.null */
} elemseg;

typedef struct {
    uint8_t mode;
    uint32_t bit;
    cexpr off;
    const uint8_t *data;
    uint32_t len;
} dataseg;

typedef struct {
    const kiln__modinfo *mi;
    const kiln__xl_opts *o;
    kiln_wasm_error *err;
    char *why;
    size_t why_cap;
    int status;
    const uint8_t *b;
    size_t pos, end;
    int64_t func;
    /* module */
    glob *globals; /* defined globals */
    uint32_t nglobals;
    uint32_t *imp_of;      /* global/table/memory index -> import index (imports come first) */
    uint32_t gimp0, timp0; /* offsets of globals and tables in imp_of */
    int64_t mem_imp;       /* import index of the memory, or -1 */
    uint8_t *declared;     /* functions ref.func may name */
    uint8_t *proto;        /* functions named before their definition: need a prototype */
    uint32_t nflag_bytes;  /* segment "dropped" bits */
    elemseg *elems;
    uint32_t nelems;
    dataseg *datas;
    uint32_t ndatas;
    size_t code_pos, code_end;
    /* function */
    uint8_t *vs;
    uint32_t nvs, vcap;
    frame *fs;
    uint32_t nfs, fcap;
    uint8_t *lt; /* local types */
    uint32_t nlocals;
    uint8_t *dused; /* [6][MAX_STACK] declared stack variables */
    uint32_t dmax;  /* slots below dmax may be marked in dused */
    const kiln_wasm_sig *fsig;
    uint32_t nlabels;
    bool live, fmem; /* fmem: the function accesses memory through M */
    bool libm;       /* some function uses a prelude_math helper */
    /* Folded expressions: a stack slot either lives in its variable or is pending as an
     * expression (pure: constants, locals, globals, loads, non-trapping arithmetic), so
     * the C is compact expressions rather than one statement per instruction. */
    int32_t *pe_off; /* [MAX_STACK] offset in pend, -1: in its variable */
    uint32_t *pe_len;
    uint8_t *pe_fl; /* PF_* */
    uint32_t npend;
    sb pend, tmp, lay;
    sb body, extra, multi, out;
} X;

/* ---- errors ---- */
static int bad(X *x, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(X *x, size_t off, const char *fmt, ...)
{
    if (x->status) return -1;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    x->status = KILN_WASM_EREJECT;
    kiln__werr(x->err, KILN_WASM_EREJECT, x->func >= 0 ? "code" : "module", x->func, (int64_t)off,
               "invalid module: %s", msg);
    return -1;
}

static int unsup(X *x, const char *what)
{
    if (x->status) return -1;
    x->status = KILN__XL_UNSUPPORTED;
    snprintf(x->why, x->why_cap, "%s", what);
    return -1;
}

/* ---- reader (bounds-checked; wasm_check already checked the structure) ---- */
static int r_u8(X *x, uint8_t *v)
{
    *v = 0;
    if (x->pos >= x->end) return bad(x, x->pos, "unexpected end");
    *v = x->b[x->pos++];
    return 0;
}

static int r_uleb(X *x, unsigned bits, uint64_t *v)
{
    uint64_t r = 0;
    *v = 0;
    unsigned shift = 0;
    for (;;) {
        uint8_t c = 0;
        if (r_u8(x, &c)) return -1;
        if (shift < 64) r |= (uint64_t)(c & 0x7f) << shift;
        shift += 7;
        if (!(c & 0x80)) break;
        if (shift >= bits) return bad(x, x->pos, "integer representation too long");
    }
    if (bits < 64 && (r >> bits)) return bad(x, x->pos, "integer too large");
    *v = r;
    return 0;
}

static int r_u32(X *x, uint32_t *v)
{
    uint64_t r = 0;
    *v = 0;
    if (r_uleb(x, 32, &r)) return -1;
    *v = (uint32_t)r;
    return 0;
}

static int r_sleb(X *x, unsigned bits, int64_t *v)
{
    uint64_t r = 0;
    unsigned shift = 0;
    uint8_t c = 0;
    *v = 0;
    for (;;) {
        if (r_u8(x, &c)) return -1;
        if (shift < 64) r |= (uint64_t)(c & 0x7f) << shift;
        shift += 7;
        if (!(c & 0x80)) break;
        if (shift >= bits) return bad(x, x->pos, "integer representation too long");
    }
    if (shift < 64 && (c & 0x40)) r |= ~(uint64_t)0 << shift;
    *v = (int64_t)r;
    return 0;
}

static int r_bytes(X *x, size_t n, const uint8_t **p)
{
    *p = NULL;
    if (n > x->end - x->pos) return bad(x, x->pos, "length out of bounds");
    *p = x->b + x->pos;
    x->pos += n;
    return 0;
}

/* ---- types ---- */
static int valtype(X *x, uint8_t t)
{
    switch (t) {
    case 0x7f:
        return TI32;
    case 0x7e:
        return TI64;
    case 0x7d:
        return TF32;
    case 0x7c:
        return TF64;
    case 0x70:
        return TFUNCREF;
    case 0x6f:
        return TEXTERNREF;
    default:
        return bad(x, x->pos, "malformed value type");
    }
}

/* Stack slot names: letter + depth ('k' for f32: "f32"/"f64" are type names). */
static char letter(int t)
{
    return t >= 0 && t < 6 ? "ijkdre"[t] : 'i';
}

static bool is_ref(int t)
{
    return t == TFUNCREF || t == TEXTERNREF;
}

/* Name of the multi-value struct (wasm2c's: struct wasm_multi_<letters>), defined once. */
static void multi_name(X *x, const kiln_wasm_sig *s, char *out)
{
    char n[80] = "wasm_multi_";
    size_t l = strlen(n);
    for (int i = 0; i < s->nresults && l < sizeof n - 1; i++)
        n[l++] = letter(s->results[i]);
    n[l] = 0;
    char key[84];
    snprintf(key, sizeof key, "|%s|", n);
    if (!x->multi.p || !strstr(x->multi.p, key)) {
        sb_str(&x->multi, key);
        sb_fmt(&x->out, "struct %s {", n);
        for (int i = 0; i < s->nresults; i++)
            sb_fmt(&x->out, "%s %c%d;", cgen_ctype(s->results[i]), letter(s->results[i]), i);
        sb_str(&x->out, "};\n");
    }
    strcpy(out, n);
}

static void ret_type(X *x, sb *s, const kiln_wasm_sig *sig)
{
    if (sig->nresults == 0) {
        sb_str(s, "void");
    } else if (sig->nresults == 1) {
        sb_str(s, cgen_ctype(sig->results[0]));
    } else {
        char n[80];
        multi_name(x, sig, n);
        sb_fmt(s, "struct %s", n);
    }
}

/* ---- value and control stacks ---- */
#define EMIT(...)                                                                                  \
    do {                                                                                           \
        if (x->live) sb_fmt(&x->body, __VA_ARGS__);                                                \
    } while (0)

static void vname(X *x, char *buf, int t, uint32_t d)
{
    char *p = buf + 15; /* by hand: the translator names a slot for every operand */
    *p = 0;
    uint32_t v = d;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    *--p = letter(t);
    memmove(buf, p, (size_t)(buf + 16 - p));
    if (x->live && t >= 0 && t <= TEXTERNREF && d < MAX_STACK) {
        x->dused[(size_t)t * MAX_STACK + d] = 1;
        if (d >= x->dmax) x->dmax = d + 1;
    }
}

static void consume(X *x, uint32_t d);
/* mark: the slot's variable is written by the caller (pending slots are declared only
 * when materialized) */
static int push_ex(X *x, int t, bool mark)
{
    if (x->nvs >= MAX_STACK) return unsup(x, "value stack deeper than 20000");
    if (x->nvs == x->vcap) {
        uint32_t nc = x->vcap ? x->vcap * 2 : 64;
        uint8_t *p = realloc(x->vs, nc);
        if (!p) return bad(x, x->pos, "out of memory");
        x->vs = p, x->vcap = nc;
    }
    if (x->pe_off[x->nvs] >= 0) consume(x, x->nvs);
    if (mark && x->live && t <= TEXTERNREF) {
        x->dused[(size_t)t * MAX_STACK + x->nvs] = 1;
        if (x->nvs >= x->dmax) x->dmax = x->nvs + 1;
    }
    x->vs[x->nvs++] = (uint8_t)t;
    return 0;
}
static int push(X *x, int t)
{
    return push_ex(x, t, true);
}

enum { PF_LOCAL = 1, PF_GLOBAL = 2, PF_LOAD = 4, PF_ALL = 0xff };

/* Emits slot d's pending expression into its variable. */
static void materialize(X *x, uint32_t d)
{
    if (x->pe_off[d] < 0) return;
    if (x->live) {
        char v[16];
        vname(x, v, x->vs[d], d);
        sb_fmt(&x->body, "%s=", v);
        sb_add(&x->body, x->pend.p + x->pe_off[d], x->pe_len[d]);
        sb_str(&x->body, ";");
    }
    x->pe_off[d] = -1;
    x->npend--;
}

/* Materializes the pending slots below top whose expression reads what mask names. */
static void materialize_below(X *x, uint32_t top, uint8_t mask)
{
    if (!x->npend) return;
    for (uint32_t d = 0; d < top && d < x->nvs + 2 && x->npend; d++)
        if (x->pe_off[d] >= 0 && (mask == PF_ALL || (x->pe_fl[d] & mask))) materialize(x, d);
}

static void materialize_all(X *x)
{
    if (!x->npend) return;
    for (uint32_t d = 0; d < MAX_STACK && x->npend; d++)
        if (x->pe_off[d] >= 0) {
            if (d < x->nvs) {
                materialize(x, d);
            } else { /* popped without use: pure, nothing to evaluate */
                x->pe_off[d] = -1;
                x->npend--;
            }
        }
}

/* A memory load as mem_lvalue writes it, `*(T*)(...)` optionally cast `(u32)`/`(u64)`:
 * a unary expression, so it needs no parentheses as an operand (fewer tokens for tcc). */
static bool is_load(const char *e, uint32_t n)
{
    uint32_t i = n > 5 && (!memcmp(e, "(u32)", 5) || !memcmp(e, "(u64)", 5)) ? 5 : 0;
    if (n < i + 6 || e[i] != '*' || e[i + 1] != '(') return false;
    const char *q = memchr(e + i, ')', n - i); /* end of the pointer cast */
    if (!q || (uint32_t)(q - e) + 1 >= n || q[1] != '(') return false;
    int depth = 0;
    for (uint32_t k = (uint32_t)(q - e) + 1; k < n; k++) {
        depth += e[k] == '(' ? 1 : e[k] == ')' ? -1 : 0;
        if (depth == 0 && k != n - 1) return false; /* a binary operator follows the load */
    }
    return depth == 0;
}

/* Appends slot d (just popped or still on the stack) as an operand. */
static void operand(X *x, sb *s, int t, uint32_t d)
{
    if (x->pe_off[d] >= 0) {
        const char *e = x->pend.p + x->pe_off[d];
        uint32_t n = x->pe_len[d];
        bool atom = true; /* a name or a number needs no parentheses */
        for (uint32_t k = 0; k < n && atom; k++)
            atom = (e[k] >= '0' && e[k] <= '9') || (e[k] >= 'a' && e[k] <= 'z') ||
                   (e[k] >= 'A' && e[k] <= 'Z') || e[k] == '_';
        if (!atom) atom = is_load(e, n);
        if (!atom) sb_add(s, "(", 1);
        sb_add(s, e, n);
        if (!atom) sb_add(s, ")", 1);
    } else {
        char v[16];
        vname(x, v, t, d);
        sb_str(s, v);
    }
}

/* Slot d as a whole expression (right of `=`, inside `if(...)`): no parentheses. */
static void operand_bare(X *x, sb *s, int t, uint32_t d)
{
    if (x->pe_off[d] >= 0)
        sb_add(s, x->pend.p + x->pe_off[d], x->pe_len[d]);
    else
        operand(x, s, t, d);
}

/* Drops the pending state of popped slot d once its text has been used. */
static void consume(X *x, uint32_t d)
{
    if (x->pe_off[d] >= 0) {
        x->pe_off[d] = -1;
        x->npend--;
    }
}

static int push_ex(X *x, int t, bool mark);
/* Pushes the expression in x->tmp as a pending slot (or evaluates it if long). */
static int push_pending(X *x, int t, uint8_t fl)
{
    uint32_t d = x->nvs;
    if (push_ex(x, t, false)) return -1;
    if (!x->live) return 0;
    if (x->tmp.len > 240 || x->pend.len > INT32_MAX / 2) {
        char v[16];
        vname(x, v, t, d);
        sb_fmt(&x->body, "%s=", v);
        sb_add(&x->body, x->tmp.p, x->tmp.len);
        sb_str(&x->body, ";");
        return 0;
    }
    x->pe_off[d] = (int32_t)x->pend.len;
    x->pe_len[d] = (uint32_t)x->tmp.len;
    x->pe_fl[d] = fl;
    x->npend++;
    sb_add(&x->pend, x->tmp.p, x->tmp.len);
    return 0;
}

static uint8_t pflags(const X *x, uint32_t d)
{
    return x->pe_off[d] >= 0 ? x->pe_fl[d] : 0;
}

/* Pops one value of type want (TUNK: any); returns its type or -1. */
static int pop(X *x, int want, size_t at)
{
    frame *f = &x->fs[x->nfs - 1];
    if (x->nvs == f->height) {
        if (f->unreach) return want == TUNK ? TUNK : want;
        return bad(x, at, "type mismatch: value stack underflow");
    }
    int t = x->vs[--x->nvs];
    if (want != TUNK && t != TUNK && t != want) return bad(x, at, "type mismatch");
    return t;
}

static void bt_sig(const X *x, const frame *f, const uint8_t **p, uint32_t *np, const uint8_t **r,
                   uint32_t *nr)
{
    if (f->bt >= 0) {
        const kiln_wasm_sig *s = &x->mi->types[f->bt];
        *p = s->params, *np = s->nparams, *r = s->results, *nr = s->nresults;
    } else {
        *p = NULL, *np = 0, *r = &f->one, *nr = f->bt == -2 ? 1 : 0;
    }
}

static void label_types(const X *x, const frame *f, const uint8_t **t, uint32_t *n)
{
    if (f->kind == FFUNC) {
        *t = x->fsig->results, *n = x->fsig->nresults;
        return;
    }
    const uint8_t *p, *r;
    uint32_t np, nr;
    bt_sig(x, f, &p, &np, &r, &nr);
    if (f->kind == FLOOP)
        *t = p, *n = np;
    else
        *t = r, *n = nr;
}

/* Checks that the top n values have types ts without popping them. */
static int peek_types(X *x, const uint8_t *ts, uint32_t n, size_t at)
{
    frame *f = &x->fs[x->nfs - 1];
    for (uint32_t k = 0; k < n; k++) {
        uint32_t depth = n - k; /* 1 = top */
        if (x->nvs < f->height + depth) {
            if (!f->unreach) return bad(x, at, "type mismatch: value stack underflow");
            continue;
        }
        uint8_t t = x->vs[x->nvs - depth];
        if (t != TUNK && t != ts[k]) return bad(x, at, "type mismatch");
    }
    return 0;
}

static int push_frame(X *x, uint8_t kind, int64_t bt, uint8_t one, size_t at)
{
    if (x->nfs >= 100000) return bad(x, at, "control nesting too deep");
    if (x->nfs == x->fcap) {
        uint32_t nc = x->fcap ? x->fcap * 2 : 16;
        frame *p = realloc(x->fs, nc * sizeof *p);
        if (!p) return bad(x, at, "out of memory");
        x->fs = p, x->fcap = nc;
    }
    frame *f = &x->fs[x->nfs++];
    memset(f, 0, sizeof *f);
    f->kind = kind, f->bt = bt, f->one = one, f->live0 = x->live, f->label = x->nlabels++;
    const uint8_t *p, *r;
    uint32_t np, nr;
    bt_sig(x, f, &p, &np, &r, &nr);
    f->height = x->nvs - np; /* params already checked and on the stack */
    return 0;
}

/* Copies the top n values into the slots starting at base (branch to a label). */
static void copy_down(X *x, const uint8_t *ts, uint32_t n, uint32_t base)
{
    if (!x->live) return;
    uint32_t from = x->nvs - n;
    if (from == base) return;
    for (uint32_t k = 0; k < n; k++) {
        char a[16], b[16];
        vname(x, a, ts[k], base + k), vname(x, b, ts[k], from + k);
        x->dused[(size_t)ts[k] * MAX_STACK + base + k] = 1;
        if (base + k >= x->dmax) x->dmax = base + k + 1;
        sb_fmt(&x->body, "%s=%s;", a, b);
    }
}

static void emit_return(X *x, const kiln_wasm_sig *s, uint32_t from)
{
    if (!x->live) return;
    if (s->nresults == 0) {
        sb_str(&x->body, "return;\n");
    } else if (s->nresults == 1) {
        sb_fmt(&x->body, "return %c%u;\n", letter(s->results[0]), from);
    } else {
        char n[80];
        multi_name(x, s, n);
        sb_fmt(&x->body, "{struct %s t;", n);
        for (int k = 0; k < s->nresults; k++)
            sb_fmt(&x->body, "t.%c%d=%c%u;", letter(s->results[k]), k, letter(s->results[k]),
                   from + k);
        sb_str(&x->body, "return t;}\n");
    }
}

/* Branch to the label `depth` levels up, with its values on top of the stack. */
static int branch(X *x, uint32_t depth, const kiln_wasm_sig *fsig)
{
    frame *t = &x->fs[x->nfs - 1 - depth];
    const uint8_t *ts;
    uint32_t n;
    label_types(x, t, &ts, &n);
    if (t->kind == FFUNC) {
        emit_return(x, fsig, x->nvs - n);
        return 0;
    }
    copy_down(x, ts, n, t->height);
    t->used = true;
    EMIT("goto L%u;", t->label);
    return 0;
}

static void set_unreachable(X *x)
{
    frame *f = &x->fs[x->nfs - 1];
    x->nvs = f->height;
    f->unreach = true;
    x->live = false;
}

/* ---- numeric operators: operand types, result type, C expression ('@' first operand,
 * '#' second) ---- */
typedef struct {
    uint8_t a, b, r; /* b = TUNK: unary */
    const char *e;
} numop;

#define U TUNK
static const numop numops[] = {
    /* 0x45 */ {TI32, U, TI32, "!@"},
    {TI32, TI32, TI32, "@==#"},
    {TI32, TI32, TI32, "@!=#"},
    {TI32, TI32, TI32, "(s32)@<(s32)#"},
    {TI32, TI32, TI32, "@<#"},
    {TI32, TI32, TI32, "(s32)@>(s32)#"},
    {TI32, TI32, TI32, "@>#"},
    {TI32, TI32, TI32, "(s32)@<=(s32)#"},
    {TI32, TI32, TI32, "@<=#"},
    {TI32, TI32, TI32, "(s32)@>=(s32)#"},
    {TI32, TI32, TI32, "@>=#"},
    /* 0x50 */ {TI64, U, TI32, "!@"},
    {TI64, TI64, TI32, "@==#"},
    {TI64, TI64, TI32, "@!=#"},
    {TI64, TI64, TI32, "(s64)@<(s64)#"},
    {TI64, TI64, TI32, "@<#"},
    {TI64, TI64, TI32, "(s64)@>(s64)#"},
    {TI64, TI64, TI32, "@>#"},
    {TI64, TI64, TI32, "(s64)@<=(s64)#"},
    {TI64, TI64, TI32, "@<=#"},
    {TI64, TI64, TI32, "(s64)@>=(s64)#"},
    {TI64, TI64, TI32, "@>=#"},
    /* 0x5b */ {TF32, TF32, TI32, "@==#"},
    {TF32, TF32, TI32, "@!=#"},
    {TF32, TF32, TI32, "@<#"},
    {TF32, TF32, TI32, "@>#"},
    {TF32, TF32, TI32, "@<=#"},
    {TF32, TF32, TI32, "@>=#"},
    /* 0x61 */ {TF64, TF64, TI32, "@==#"},
    {TF64, TF64, TI32, "@!=#"},
    {TF64, TF64, TI32, "@<#"},
    {TF64, TF64, TI32, "@>#"},
    {TF64, TF64, TI32, "@<=#"},
    {TF64, TF64, TI32, "@>=#"},
    /* 0x67 */ {TI32, U, TI32, "I32_CLZ(@)"},
    {TI32, U, TI32, "I32_CTZ(@)"},
    {TI32, U, TI32, "I32_POPCNT(@)"},
    {TI32, TI32, TI32, "@+#"},
    {TI32, TI32, TI32, "@-#"},
    {TI32, TI32, TI32, "@*#"},
    {TI32, TI32, TI32, "I32_DIV_S(@,#)"},
    {TI32, TI32, TI32, "DIV_U(@,#)"},
    {TI32, TI32, TI32, "I32_REM_S(@,#)"},
    {TI32, TI32, TI32, "REM_U(@,#)"},
    {TI32, TI32, TI32, "@&#"},
    {TI32, TI32, TI32, "@|#"},
    {TI32, TI32, TI32, "@^#"},
    {TI32, TI32, TI32, "@<<(#&31)"},
    {TI32, TI32, TI32, "(u32)((s32)@>>(#&31))"},
    {TI32, TI32, TI32, "@>>(#&31)"},
    {TI32, TI32, TI32, "I32_ROTL(@,#)"},
    {TI32, TI32, TI32, "I32_ROTR(@,#)"},
    /* 0x79 */ {TI64, U, TI64, "I64_CLZ(@)"},
    {TI64, U, TI64, "I64_CTZ(@)"},
    {TI64, U, TI64, "I64_POPCNT(@)"},
    {TI64, TI64, TI64, "@+#"},
    {TI64, TI64, TI64, "@-#"},
    {TI64, TI64, TI64, "@*#"},
    {TI64, TI64, TI64, "I64_DIV_S(@,#)"},
    {TI64, TI64, TI64, "DIV_U(@,#)"},
    {TI64, TI64, TI64, "I64_REM_S(@,#)"},
    {TI64, TI64, TI64, "REM_U(@,#)"},
    {TI64, TI64, TI64, "@&#"},
    {TI64, TI64, TI64, "@|#"},
    {TI64, TI64, TI64, "@^#"},
    {TI64, TI64, TI64, "@<<(#&63)"},
    {TI64, TI64, TI64, "(u64)((s64)@>>(#&63))"},
    {TI64, TI64, TI64, "@>>(#&63)"},
    {TI64, TI64, TI64, "I64_ROTL(@,#)"},
    {TI64, TI64, TI64, "I64_ROTR(@,#)"},
    /* 0x8b */ {TF32, U, TF32, "fb(bf(@)&0x7fffffffu)"},
    {TF32, U, TF32, "fb(bf(@)^0x80000000u)"},
    {TF32, U, TF32, "Cf(@)"},
    {TF32, U, TF32, "Ff(@)"},
    {TF32, U, TF32, "Tf(@)"},
    {TF32, U, TF32, "Nf(@)"},
    {TF32, U, TF32, "Sf(@)"},
    {TF32, TF32, TF32, "@+#"},
    {TF32, TF32, TF32, "@-#"},
    {TF32, TF32, TF32, "@*#"},
    {TF32, TF32, TF32, "@/#"},
    {TF32, TF32, TF32, "minf(@,#)"},
    {TF32, TF32, TF32, "maxf(@,#)"},
    {TF32, TF32, TF32, "fb((bf(@)&0x7fffffffu)|(bf(#)&0x80000000u))"},
    /* 0x99 */ {TF64, U, TF64, "db(bd(@)&0x7fffffffffffffffull)"},
    {TF64, U, TF64, "db(bd(@)^0x8000000000000000ull)"},
    {TF64, U, TF64, "Cd(@)"},
    {TF64, U, TF64, "Fd(@)"},
    {TF64, U, TF64, "Td(@)"},
    {TF64, U, TF64, "Nd(@)"},
    {TF64, U, TF64, "Sd(@)"},
    {TF64, TF64, TF64, "@+#"},
    {TF64, TF64, TF64, "@-#"},
    {TF64, TF64, TF64, "@*#"},
    {TF64, TF64, TF64, "@/#"},
    {TF64, TF64, TF64, "mind(@,#)"},
    {TF64, TF64, TF64, "maxd(@,#)"},
    {TF64, TF64, TF64, "db((bd(@)&0x7fffffffffffffffull)|(bd(#)&0x8000000000000000ull))"},
    /* 0xa7 */ {TI64, U, TI32, "(u32)@"},
    {TF32, U, TI32, "I32_TRUNC_S_F32(@)"},
    {TF32, U, TI32, "I32_TRUNC_U_F32(@)"},
    {TF64, U, TI32, "I32_TRUNC_S_F64(@)"},
    {TF64, U, TI32, "I32_TRUNC_U_F64(@)"},
    {TI32, U, TI64, "(u64)(s64)(s32)@"},
    {TI32, U, TI64, "(u64)@"},
    {TF32, U, TI64, "I64_TRUNC_S_F32(@)"},
    {TF32, U, TI64, "I64_TRUNC_U_F32(@)"},
    {TF64, U, TI64, "I64_TRUNC_S_F64(@)"},
    {TF64, U, TI64, "I64_TRUNC_U_F64(@)"},
    /* 0xb2 */ {TI32, U, TF32, "(f32)(s32)@"},
    {TI32, U, TF32, "(f32)@"},
    {TI64, U, TF32, "(f32)(s64)@"},
    {TI64, U, TF32, "(f32)@"},
    {TF64, U, TF32, "(f32)qd(@)"},
    {TI32, U, TF64, "(f64)(s32)@"},
    {TI32, U, TF64, "(f64)@"},
    {TI64, U, TF64, "(f64)(s64)@"},
    {TI64, U, TF64, "(f64)@"},
    {TF32, U, TF64, "(f64)qf(@)"},
    /* 0xbc */ {TF32, U, TI32, "bf(@)"},
    {TF64, U, TI64, "bd(@)"},
    {TI32, U, TF32, "fb(@)"},
    {TI64, U, TF64, "db(@)"},
    /* 0xc0 */ {TI32, U, TI32, "(u32)(s32)(s8)@"},
    {TI32, U, TI32, "(u32)(s32)(s16)@"},
    {TI64, U, TI64, "(u64)(s64)(s8)@"},
    {TI64, U, TI64, "(u64)(s64)(s16)@"},
    {TI64, U, TI64, "(u64)(s64)(s32)@"},
};
static const numop satops[] = {
    {TF32, U, TI32, "I32_TRUNC_SAT_S_F32(@)"}, {TF32, U, TI32, "I32_TRUNC_SAT_U_F32(@)"},
    {TF64, U, TI32, "I32_TRUNC_SAT_S_F64(@)"}, {TF64, U, TI32, "I32_TRUNC_SAT_U_F64(@)"},
    {TF32, U, TI64, "I64_TRUNC_SAT_S_F32(@)"}, {TF32, U, TI64, "I64_TRUNC_SAT_U_F32(@)"},
    {TF64, U, TI64, "I64_TRUNC_SAT_S_F64(@)"}, {TF64, U, TI64, "I64_TRUNC_SAT_U_F64(@)"},
};
#undef U

/* Templates that evaluate an operand twice or can trap are emitted as statements on
 * plain variables (after everything pending, so traps keep wasm's order). */
static bool foldable(const char *e)
{
    return strncmp(e, "I32_", 4) && strncmp(e, "I64_", 4) && strncmp(e, "DIV_", 4) &&
           strncmp(e, "REM_", 4);
}

static void subst(X *x, sb *out, const numop *n, uint32_t base)
{
    for (const char *e = n->e; *e; e++) {
        if (*e == '@')
            operand(x, out, n->a, base);
        else if (*e == '#')
            operand(x, out, n->b, base + 1);
        else if (*e == '/')
            sb_add(out, "/ ", 2); /* a load operand starts with '*': not a comment */
        else
            sb_add(out, e, 1);
    }
}

static int do_numop(X *x, const numop *n, size_t at)
{
    char r[16];
    if (n->b != TUNK && pop(x, n->b, at) < 0) return -1;
    if (pop(x, n->a, at) < 0) return -1;
    uint32_t base = x->nvs;
    if (strchr("CFTNS", n->e[0]) && (n->e[1] == 'f' || n->e[1] == 'd') && n->e[2] == '(')
        x->libm = true; /* a prelude_math helper */
    if (foldable(n->e)) {
        uint8_t fl = pflags(x, base) | (n->b != TUNK ? pflags(x, base + 1) : 0);
        x->tmp.len = 0;
        if (x->live) subst(x, &x->tmp, n, base);
        consume(x, base);
        if (n->b != TUNK) consume(x, base + 1);
        return push_pending(x, n->r, fl);
    }
    /* everything pending first, then the operands: the macros use them twice */
    materialize_below(x, base, PF_ALL);
    materialize(x, base);
    if (n->b != TUNK) materialize(x, base + 1);
    if (push(x, n->r)) return -1;
    if (!x->live) return 0;
    vname(x, r, n->r, base);
    sb_fmt(&x->body, "%s=", r);
    subst(x, &x->body, n, base);
    sb_str(&x->body, ";");
    return 0;
}

/* ---- memory accesses ---- */
typedef struct {
    uint8_t t, size;
    bool store;
    const char *ct; /* C type in memory */
} memop;
static const memop memops[] = {
    /* 0x28 */ {TI32, 4, 0, "u32"},
    {TI64, 8, 0, "u64"},
    {TF32, 4, 0, "f32"},
    {TF64, 8, 0, "f64"},
    {TI32, 1, 0, "s8"},
    {TI32, 1, 0, "u8"},
    {TI32, 2, 0, "s16"},
    {TI32, 2, 0, "u16"},
    {TI64, 1, 0, "s8"},
    {TI64, 1, 0, "u8"},
    {TI64, 2, 0, "s16"},
    {TI64, 2, 0, "u16"},
    {TI64, 4, 0, "s32"},
    {TI64, 4, 0, "u32"},
    /* 0x36 */ {TI32, 4, 1, "u32"},
    {TI64, 8, 1, "u64"},
    {TF32, 4, 1, "f32"},
    {TF64, 8, 1, "f64"},
    {TI32, 1, 1, "u8"},
    {TI32, 2, 1, "u16"},
    {TI64, 1, 1, "u8"},
    {TI64, 2, 1, "u16"},
    {TI64, 4, 1, "u32"},
};

/* `*(T*)(M+addr+offset)`: M is the function's copy of the memory base (linear memory
 * never moves: grow only changes the protection of its reservation). The offset is added
 * in 64 bits (pointer arithmetic), so addr+offset cannot wrap. */
static void mem_lvalue(X *x, sb *s, const memop *mo, uint32_t d, uint32_t off)
{
    x->fmem = true;
    sb_fmt(s, "*(%s*)(M+", mo->ct);
    if (x->o->explicit_bounds) {
        sb_str(s, "CK(&MEM,(u64)");
        operand(x, s, TI32, d);
        sb_fmt(s, "+%uu,%u))", off, mo->size);
        return;
    }
    operand(x, s, TI32, d);
    if (off) sb_fmt(s, "+%uu", off);
    sb_str(s, ")");
}

static int do_memop(X *x, uint8_t op, size_t at)
{
    const memop *mo = &memops[op - 0x28];
    uint32_t align, off;
    if (r_u32(x, &align) || r_u32(x, &off)) return -1;
    if (!x->mi->has_memory) return bad(x, at, "unknown memory 0");
    if (align >= 32 || (1u << align) > mo->size)
        return bad(x, at, "alignment must not be larger than natural");
    if (mo->store) {
        if (pop(x, mo->t, at) < 0 || pop(x, TI32, at) < 0) return -1;
        uint32_t d = x->nvs;
        materialize_below(x, d, PF_LOAD); /* they read memory before this write */
        if (x->live) { /* the assignment converts (narrows) the value */
            mem_lvalue(x, &x->body, mo, d, off);
            sb_str(&x->body, "=");
            operand_bare(x, &x->body, mo->t, d + 1);
            sb_str(&x->body, ";");
        }
        consume(x, d), consume(x, d + 1);
        return 0;
    }
    if (pop(x, TI32, at) < 0) return -1;
    uint32_t d = x->nvs;
    uint8_t fl = pflags(x, d) | PF_LOAD;
    /* narrow loads widen to the slot's type (a signed one sign-extends by conversion) */
    bool full = mo->size == (mo->t == TI64 || mo->t == TF64 ? 8 : 4);
    x->tmp.len = 0;
    if (x->live) {
        if (!full) sb_str(&x->tmp, mo->t == TI64 ? "(u64)" : "(u32)");
        mem_lvalue(x, &x->tmp, mo, d, off);
    }
    consume(x, d);
    return push_pending(x, mo->t, fl);
}

/* ---- calls ---- */
static void emit_call_tail(X *x, const kiln_wasm_sig *s, uint32_t base)
{
    /* arguments are at base.., results go to base.. */
    for (int k = 0; k < s->nparams; k++)
        sb_fmt(&x->body, ",%c%u", letter(s->params[k]), base + (uint32_t)k);
    sb_str(&x->body, ");");
    if (s->nresults > 1) {
        for (int k = 0; k < s->nresults; k++)
            sb_fmt(&x->body, "%c%u=t.%c%d;", letter(s->results[k]), base + (uint32_t)k,
                   letter(s->results[k]), k);
        sb_str(&x->body, "}");
    }
}

static void emit_call_head(X *x, const kiln_wasm_sig *s, uint32_t base)
{
    if (s->nresults == 1) {
        sb_fmt(&x->body, "%c%u=", letter(s->results[0]), base);
    } else if (s->nresults > 1) {
        char n[80];
        multi_name(x, s, n);
        sb_fmt(&x->body, "{struct %s t=", n);
    }
}

static int pop_params(X *x, const kiln_wasm_sig *s, size_t at)
{
    for (int k = s->nparams - 1; k >= 0; k--)
        if (pop(x, s->params[k], at) < 0) return -1;
    return 0;
}

static int push_results(X *x, const kiln_wasm_sig *s)
{
    for (int k = 0; k < s->nresults; k++)
        if (push(x, s->results[k])) return -1;
    return 0;
}

/* ---- bulk memory and table instructions (0xfc 8, 9, 12..17) ---- */
static void gref(const X *x, uint32_t g, char *buf, size_t cap);
static void tref(const X *x, uint32_t t, char *buf, size_t cap);
static void funcref_lit(const X *x, sb *s, uint32_t f);

static int pop3(X *x, int t2, size_t at)
{
    if (pop(x, TI32, at) < 0 || pop(x, t2, at) < 0 || pop(x, TI32, at) < 0) return -1;
    return 0;
}

static int table_op(X *x, uint32_t sub, size_t at)
{
    const kiln__modinfo *mi = x->mi;
    uint32_t a, b;
    char t1[32], t2[32];
    uint8_t z;
    switch (sub) {
    case 8: { /* memory.init seg 0 */
        if (r_u32(x, &a) || r_u8(x, &z)) return -1;
        if (z) return bad(x, at, "zero byte expected");
        if (!mi->has_memory) return bad(x, at, "unknown memory 0");
        if (a >= x->ndatas) return bad(x, at, "unknown data segment %u", a);
        if (pop3(x, TI32, at)) return -1;
        uint32_t base = x->nvs;
        if (x->datas[a].mode == SEG_PASSIVE && x->datas[a].len)
            EMIT("MI(&MEM,D%u,(m->F[%u]>>%u&1)?0:%u,i%u,i%u,i%u);", a, x->datas[a].bit >> 3,
                 x->datas[a].bit & 7, x->datas[a].len, base, base + 1, base + 2);
        else
            EMIT("MI(&MEM,D%u,0,i%u,i%u,i%u);", a, base, base + 1, base + 2);
        return 0;
    }
    case 9: /* data.drop */
        if (r_u32(x, &a)) return -1;
        if (a >= x->ndatas) return bad(x, at, "unknown data segment %u", a);
        if (x->datas[a].mode == SEG_PASSIVE && x->datas[a].len)
            EMIT("m->F[%u]|=%u;", x->datas[a].bit >> 3, 1u << (x->datas[a].bit & 7));
        return 0;
    case 12: { /* table.init seg table */
        if (r_u32(x, &a) || r_u32(x, &b)) return -1;
        if (a >= x->nelems) return bad(x, at, "unknown elem segment %u", a);
        if (b >= mi->ntables) return bad(x, at, "unknown table %u", b);
        if (x->elems[a].t != mi->tables[b].vtype) return bad(x, at, "type mismatch: table.init");
        if (pop3(x, TI32, at)) return -1;
        uint32_t base = x->nvs;
        char sz[48];
        if (x->elems[a].mode == SEG_PASSIVE && x->elems[a].n)
            snprintf(sz, sizeof sz, "(m->F[%u]>>%u&1)?0:%u", x->elems[a].bit >> 3,
                     x->elems[a].bit & 7, x->elems[a].n);
        else
            snprintf(sz, sizeof sz, "0");
        tref(x, b, t1, sizeof t1);
        if (x->elems[a].t == TFUNCREF)
            EMIT("TI(&%s,E%u,%s,i%u,i%u,i%u,m);", t1, a, sz, base, base + 1, base + 2);
        else
            EMIT("TE(&%s,%s,i%u,i%u,i%u);", t1, sz, base, base + 1, base + 2);
        return 0;
    }
    case 13: /* elem.drop */
        if (r_u32(x, &a)) return -1;
        if (a >= x->nelems) return bad(x, at, "unknown elem segment %u", a);
        if (x->elems[a].mode == SEG_PASSIVE && x->elems[a].n)
            EMIT("m->F[%u]|=%u;", x->elems[a].bit >> 3, 1u << (x->elems[a].bit & 7));
        return 0;
    case 14: { /* table.copy dst src */
        if (r_u32(x, &a) || r_u32(x, &b)) return -1;
        if (a >= mi->ntables) return bad(x, at, "unknown table %u", a);
        if (b >= mi->ntables) return bad(x, at, "unknown table %u", b);
        if (mi->tables[a].vtype != mi->tables[b].vtype)
            return bad(x, at, "type mismatch: table.copy");
        if (pop3(x, TI32, at)) return -1;
        uint32_t base = x->nvs;
        tref(x, a, t1, sizeof t1), tref(x, b, t2, sizeof t2);
        EMIT("%ccopy(&%s,&%s,i%u,i%u,i%u);", letter(mi->tables[a].vtype), t1, t2, base, base + 1,
             base + 2);
        return 0;
    }
    case 15:   /* table.grow */
    case 16:   /* table.size */
    case 17: { /* table.fill */
        if (r_u32(x, &a)) return -1;
        if (a >= mi->ntables) return bad(x, at, "unknown table %u", a);
        int t = mi->tables[a].vtype;
        tref(x, a, t1, sizeof t1);
        uint32_t base;
        if (sub == 15) {
            if (pop(x, TI32, at) < 0 || pop(x, t, at) < 0) return -1;
            base = x->nvs;
            if (push(x, TI32)) return -1;
            EMIT("i%u=kiln__rt->grow_%s_table(&%s,i%u,%c%u);", base,
                 t == TFUNCREF ? "funcref" : "externref", t1, base + 1, letter(t), base);
        } else if (sub == 16) {
            base = x->nvs;
            if (push(x, TI32)) return -1;
            EMIT("i%u=%s.size;", base, t1);
        } else {
            if (pop3(x, t, at)) return -1;
            base = x->nvs;
            EMIT("%cfill(&%s,i%u,%c%u,i%u);", letter(t), t1, base, letter(t), base + 1, base + 2);
        }
        return 0;
    }
    default:
        return bad(x, at, "unknown 0xfc opcode %u", sub);
    }
}

/* ---- one function body ---- */
static int read_blocktype(X *x, int64_t *bt, uint8_t *one, size_t at)
{
    if (x->pos >= x->end) return bad(x, at, "unexpected end");
    uint8_t c = x->b[x->pos];
    if (c == 0x40) {
        x->pos++;
        *bt = -1;
        return 0;
    }
    if (c == 0x7f || c == 0x7e || c == 0x7d || c == 0x7c || c == 0x70 || c == 0x6f) {
        x->pos++;
        int t = valtype(x, c);
        if (t < 0) return -1;
        *bt = -2, *one = (uint8_t)t;
        return 0;
    }
    int64_t s;
    if (r_sleb(x, 33, &s)) return -1;
    if (s < 0 || (uint64_t)s >= x->mi->ntypes) return bad(x, at, "unknown type %lld", (long long)s);
    *bt = s;
    return 0;
}

static int func_body(X *x, uint32_t fidx, size_t body_end)
{
    const kiln__modinfo *mi = x->mi;
    const kiln_wasm_sig *fs = &mi->types[mi->func_types[fidx]];
    x->func = fidx;
    x->end = body_end;
    x->nvs = 0, x->nfs = 0, x->nlabels = 1, x->live = true, x->fmem = false;
    x->body.len = 0, x->extra.len = 0;
    if (x->body.p) x->body.p[0] = 0;
    for (int t = 0; t < 6; t++)
        memset(x->dused + (size_t)t * MAX_STACK, 0, x->dmax);
    x->dmax = 0;
    for (uint32_t d = 0; d < MAX_STACK + 2 && x->npend; d++) /* only after an error path */
        x->pe_off[d] = -1;
    x->npend = 0;
    x->pend.len = 0;
    x->fsig = fs;
    /* locals */
    uint32_t ngroups, nl = fs->nparams;
    if (r_u32(x, &ngroups)) return -1;
    size_t save = x->pos;
    for (uint32_t g = 0; g < ngroups; g++) {
        uint32_t cnt;
        uint8_t t;
        if (r_u32(x, &cnt) || r_u8(x, &t)) return -1;
        if (cnt > 50000 || nl + cnt > 50000) return bad(x, save, "too many locals");
        nl += cnt;
    }
    uint8_t *lt = realloc(x->lt, nl ? nl : 1);
    if (!lt) return bad(x, save, "out of memory");
    x->lt = lt, x->nlocals = nl;
    for (uint32_t k = 0; k < fs->nparams; k++)
        lt[k] = fs->params[k];
    x->pos = save;
    uint32_t li = fs->nparams;
    for (uint32_t g = 0; g < ngroups; g++) {
        uint32_t cnt;
        uint8_t t;
        if (r_u32(x, &cnt) || r_u8(x, &t)) return -1;
        int vt = valtype(x, t);
        if (vt < 0) return -1;
        for (uint32_t k = 0; k < cnt; k++)
            lt[li++] = (uint8_t)vt;
    }
    /* function frame: results are the label type */
    if (push_frame(x, FFUNC, -1, 0, x->pos)) return -1;
    x->fs[0].height = 0;
    /* stack check and fuel tick as one call: a call is ~1/3 of the tokens tcc would parse
     * and compile for the inline test (tier 0 trades a little speed for compile time) */
    sb_str(&x->body, x->o->no_fuel ? "S(m);\n" : "E(m);\n");
    for (;;) {
        size_t at = x->pos;
        uint8_t op;
        if (x->status) return -1;
        if (r_u8(x, &op)) return -1;
        /* Instructions that do not take folded operands see every slot in its variable;
         * if/br_if/br_table use the folded condition itself. */
        frame *cur = &x->fs[x->nfs - 1];
        /* the function's last `end` returns a single pending result as it is */
        bool ret_expr = op == 0x0b && cur->kind == FFUNC && fs->nresults == 1 && x->nvs == 1 &&
                        x->npend == 1 && x->pe_off[0] >= 0;
        if (x->npend) {
            bool simple = op == 0x1a || (op >= 0x20 && op <= 0x24) || (op >= 0x28 && op <= 0x3e) ||
                          (op >= 0x41 && op <= 0xc4) || op == 0x01 || ret_expr;
            if (op == 0x04 || op == 0x0d || op == 0x0e)
                materialize_below(x, x->nvs ? x->nvs - 1 : 0, PF_ALL);
            else if (!simple)
                materialize_all(x);
        }
        char a[16], b[16], c[16];
        uint32_t u, u2;
        switch (op) {
        case 0x00: /* unreachable */
            EMIT("TR(%d);\n", WASM_RT_TRAP_UNREACHABLE);
            set_unreachable(x);
            break;
        case 0x01:
            break;
        case 0x02:
        case 0x03:
        case 0x04: {
            int64_t bt = -1;
            uint8_t one = 0;
            if (read_blocktype(x, &bt, &one, at)) return -1;
            uint32_t cond = 0;
            if (op == 0x04) {
                if (pop(x, TI32, at) < 0) return -1;
                cond = x->nvs;
            }
            if (bt >= 0) { /* params stay in their slots, now typed */
                const kiln_wasm_sig *s = &mi->types[bt];
                if (pop_params(x, s, at)) return -1;
                for (int k = 0; k < s->nparams; k++)
                    if (push(x, s->params[k])) return -1;
            }
            if (push_frame(x, op == 0x02 ? FBLOCK : op == 0x03 ? FLOOP : FIF, bt, one, at))
                return -1;
            frame *f = &x->fs[x->nfs - 1];
            if (op == 0x03) {
                EMIT("L%u:;", f->label);
                if (!x->o->no_fuel) EMIT("F(m);");
                EMIT("\n");
            } else if (op == 0x04) {
                /* params are saved for the else branch (the then branch reuses the slots) */
                if (bt >= 0)
                    for (int k = 0; k < mi->types[bt].nparams; k++) {
                        int t = mi->types[bt].params[k];
                        if (x->live) sb_fmt(&x->extra, "%s x%u_%d;", cgen_ctype(t), f->label, k);
                        EMIT("x%u_%d=%c%u;", f->label, k, letter(t), f->height + (uint32_t)k);
                    }
                if (x->live) {
                    sb_str(&x->body, "if(");
                    operand_bare(x, &x->body, TI32, cond);
                    sb_str(&x->body, "){\n");
                }
                consume(x, cond);
            }
            break;
        }
        case 0x05: { /* else */
            if (cur->kind != FIF) return bad(x, at, "else without if");
            const uint8_t *p, *r;
            uint32_t np, nr;
            bt_sig(x, cur, &p, &np, &r, &nr);
            for (uint32_t k = nr; k-- > 0;)
                if (pop(x, r[k], at) < 0) return -1;
            if (x->nvs != cur->height) return bad(x, at, "type mismatch: values left in block");
            cur->kind = FELSE;
            cur->unreach = false;
            x->live = cur->live0;
            EMIT("}else{\n");
            for (uint32_t k = 0; k < np; k++) {
                if (push(x, p[k])) return -1;
                EMIT("%c%u=x%u_%u;", letter(p[k]), cur->height + k, cur->label, k);
            }
            break;
        }
        case 0x0b: { /* end */
            const uint8_t *p, *r;
            uint32_t np, nr;
            if (cur->kind == FFUNC) {
                for (int k = fs->nresults; k-- > 0;)
                    if (pop(x, fs->results[k], at) < 0) return -1;
                if (x->nvs != 0) return bad(x, at, "type mismatch: values left at function end");
                if (x->pos != body_end) return bad(x, at, "function body has trailing bytes");
                if (ret_expr) {
                    if (x->live) {
                        sb_str(&x->body, "return ");
                        operand_bare(x, &x->body, fs->results[0], 0);
                        sb_str(&x->body, ";\n");
                    }
                    consume(x, 0);
                    x->nfs = 0;
                    return 0;
                }
                for (int k = 0; k < fs->nresults; k++)
                    if (x->live) {
                        x->dused[(size_t)fs->results[k] * MAX_STACK + (uint32_t)k] = 1;
                        if ((uint32_t)k >= x->dmax) x->dmax = (uint32_t)k + 1;
                    }
                emit_return(x, fs, 0);
                x->nfs = 0;
                return 0;
            }
            bt_sig(x, cur, &p, &np, &r, &nr);
            for (uint32_t k = nr; k-- > 0;)
                if (pop(x, r[k], at) < 0) return -1;
            if (x->nvs != cur->height) return bad(x, at, "type mismatch: values left in block");
            if (cur->kind == FIF) {
                if (np != nr || (np && memcmp(p, r, np)))
                    return bad(x, at, "type mismatch: if without else changes the stack type");
                x->live = cur->live0;
                if (np) {
                    EMIT("}else{");
                    for (uint32_t k = 0; k < np; k++)
                        EMIT("%c%u=x%u_%u;", letter(p[k]), cur->height + k, cur->label, k);
                }
                EMIT("}\n");
            } else if (cur->kind == FELSE) {
                x->live = cur->live0;
                EMIT("}\n");
            }
            x->live = cur->live0;
            if (cur->used && cur->kind != FLOOP) EMIT("L%u:;\n", cur->label);
            uint32_t h = cur->height;
            x->nfs--;
            x->nvs = h;
            for (uint32_t k = 0; k < nr; k++)
                if (push(x, r[k])) return -1;
            break;
        }
        case 0x0c:
        case 0x0d: { /* br, br_if */
            if (r_u32(x, &u)) return -1;
            if (u >= x->nfs) return bad(x, at, "unknown label %u", u);
            if (op == 0x0d) {
                if (pop(x, TI32, at) < 0) return -1;
                if (x->live) {
                    sb_str(&x->body, "if(");
                    operand_bare(x, &x->body, TI32, x->nvs);
                    sb_str(&x->body, "){");
                }
                consume(x, x->nvs);
            }
            const uint8_t *ts;
            uint32_t n;
            label_types(x, &x->fs[x->nfs - 1 - u], &ts, &n);
            if (peek_types(x, ts, n, at)) return -1;
            if (x->nvs < cur->height + n) { /* unreachable: materialise typed values */
                for (uint32_t k = 0; k < n; k++)
                    if (pop(x, TUNK, at) < 0) return -1;
                for (uint32_t k = 0; k < n; k++)
                    if (push(x, ts[k])) return -1;
            }
            branch(x, u, fs);
            if (op == 0x0d) {
                EMIT("}\n");
                for (uint32_t k = 0; k < n; k++)
                    x->vs[x->nvs - n + k] = ts[k];
            } else {
                EMIT("\n");
                set_unreachable(x);
            }
            break;
        }
        case 0x0e: { /* br_table */
            uint32_t n;
            if (r_u32(x, &n)) return -1;
            if (n > x->end - x->pos) return bad(x, at, "br_table length out of bounds");
            size_t tpos = x->pos;
            uint32_t dflt;
            for (uint32_t k = 0; k < n; k++)
                if (r_u32(x, &u)) return -1;
            if (r_u32(x, &dflt)) return -1;
            if (dflt >= x->nfs) return bad(x, at, "unknown label %u", dflt);
            if (pop(x, TI32, at) < 0) return -1;
            uint32_t cond = x->nvs;
            const uint8_t *dts;
            uint32_t dn;
            label_types(x, &x->fs[x->nfs - 1 - dflt], &dts, &dn);
            if (peek_types(x, dts, dn, at)) return -1;
            size_t endpos = x->pos;
            x->pos = tpos;
            if (x->live) {
                sb_str(&x->body, "switch(");
                operand_bare(x, &x->body, TI32, cond);
                sb_str(&x->body, "){");
            }
            consume(x, cond);
            for (uint32_t k = 0; k < n; k++) {
                if (r_u32(x, &u)) return -1;
                if (u >= x->nfs) return bad(x, at, "unknown label %u", u);
                const uint8_t *ts;
                uint32_t tn;
                label_types(x, &x->fs[x->nfs - 1 - u], &ts, &tn);
                if (tn != dn) return bad(x, at, "type mismatch: br_table arity");
                if (peek_types(x, ts, tn, at)) return -1;
                EMIT("case %u:", k);
                if (x->nvs >= x->fs[x->nfs - 1].height + tn) branch(x, u, fs);
            }
            x->pos = endpos;
            EMIT("default:");
            if (x->nvs >= x->fs[x->nfs - 1].height + dn) branch(x, dflt, fs);
            EMIT("}\n");
            set_unreachable(x);
            break;
        }
        case 0x0f: { /* return */
            if (peek_types(x, fs->results, fs->nresults, at)) return -1;
            if (x->live) emit_return(x, fs, x->nvs - fs->nresults);
            set_unreachable(x);
            break;
        }
        case 0x10: { /* call */
            if (r_u32(x, &u)) return -1;
            if (u >= mi->nfunc_imports + mi->nfuncs) return bad(x, at, "unknown function %u", u);
            const kiln_wasm_sig *s = &mi->types[mi->func_types[u]];
            if (pop_params(x, s, at)) return -1;
            uint32_t base = x->nvs;
            if (push_results(x, s)) return -1;
            if (x->live) {
                emit_call_head(x, s, base);
                if (u < mi->nfunc_imports)
                    sb_fmt(&x->body, "h%u(m->env", u);
                else
                    sb_fmt(&x->body, "w%u(m", u);
                if (u > x->func) x->proto[u] = 1;
                emit_call_tail(x, s, base);
                sb_str(&x->body, "\n");
            }
            break;
        }
        case 0x11: { /* call_indirect */
            if (r_u32(x, &u) || r_u32(x, &u2)) return -1;
            if (u >= mi->ntypes) return bad(x, at, "unknown type %u", u);
            if (u2 >= mi->ntables) return bad(x, at, "unknown table %u", u2);
            if (mi->tables[u2].vtype != TFUNCREF)
                return bad(x, at, "call_indirect on externref table");
            const kiln_wasm_sig *s = &mi->types[u];
            if (pop(x, TI32, at) < 0) return -1;
            uint32_t idx = x->nvs;
            if (pop_params(x, s, at)) return -1;
            uint32_t base = x->nvs;
            if (push_results(x, s)) return -1;
            if (x->live) {
                char tb[32];
                tref(x, u2, tb, sizeof tb);
                sb_fmt(&x->body, "{wasm_rt_funcref_t*e=CI(&%s,i%u,FT[%u]);", tb, idx, u);
                emit_call_head(x, s, base);
                sb_str(&x->body, "((");
                ret_type(x, &x->body, s);
                sb_str(&x->body, "(*)(void*");
                for (int k = 0; k < s->nparams; k++)
                    sb_fmt(&x->body, ",%s", cgen_ctype(s->params[k]));
                sb_str(&x->body, "))e->func)(e->module_instance");
                emit_call_tail(x, s, base);
                sb_str(&x->body, "}\n");
            }
            break;
        }
        case 0x1a:
            if (pop(x, TUNK, at) < 0) return -1;
            if (pflags(x, x->nvs) & PF_LOAD)
                materialize(x, x->nvs);
            else
                consume(x, x->nvs);
            break;
        case 0x1b:
        case 0x1c: { /* select */
            int want = TUNK;
            if (op == 0x1c) {
                uint8_t t;
                if (r_u32(x, &u)) return -1;
                if (u != 1) return bad(x, at, "invalid result arity for select");
                if (r_u8(x, &t)) return -1;
                if ((want = valtype(x, t)) < 0) return -1;
            }
            if (pop(x, TI32, at) < 0) return -1;
            int t2 = pop(x, want, at);
            if (t2 < 0) return -1;
            int t1 = pop(x, t2 == TUNK ? want : t2, at);
            if (t1 < 0) return -1;
            int t = t1 != TUNK ? t1 : t2;
            if (op == 0x1b && t != TUNK && is_ref(t))
                return bad(x, at, "type mismatch: untyped select of references");
            uint32_t base = x->nvs;
            if (push(x, t == TUNK ? TUNK : t)) return -1;
            if (t != TUNK) {
                vname(x, a, t, base), vname(x, b, t, base + 1), vname(x, c, TI32, base + 2);
                EMIT("%s=%s?%s:%s;", a, c, a, b);
            }
            break;
        }
        case 0x20:
        case 0x21:
        case 0x22: {
            if (r_u32(x, &u)) return -1;
            if (u >= x->nlocals) return bad(x, at, "unknown local %u", u);
            int t = x->lt[u];
            if (op == 0x20) {
                x->tmp.len = 0;
                sb_fmt(&x->tmp, "l%u", u);
                if (push_pending(x, t, PF_LOCAL)) return -1;
            } else {
                if (pop(x, t, at) < 0) return -1;
                uint32_t d = x->nvs;
                materialize_below(x, d, PF_LOCAL); /* they read locals before this write */
                if (x->live) {
                    sb_fmt(&x->body, "l%u=", u);
                    operand_bare(x, &x->body, t, d);
                    sb_str(&x->body, ";");
                }
                consume(x, d);
                if (op == 0x22) {
                    x->tmp.len = 0;
                    sb_fmt(&x->tmp, "l%u", u);
                    if (push_pending(x, t, PF_LOCAL)) return -1;
                }
            }
            break;
        }
        case 0x23:
        case 0x24: {
            if (r_u32(x, &u)) return -1;
            if (u >= mi->nglobals) return bad(x, at, "unknown global %u", u);
            int t = mi->globals[u].vtype;
            char g[32];
            gref(x, u, g, sizeof g);
            if (op == 0x23) {
                if (is_ref(t)) {
                    vname(x, a, t, x->nvs);
                    if (push(x, t)) return -1;
                    EMIT("%s=%s;", a, g);
                } else {
                    x->tmp.len = 0;
                    sb_str(&x->tmp, g);
                    if (push_pending(x, t, PF_GLOBAL)) return -1;
                }
            } else {
                if (!mi->globals[u].mut) return bad(x, at, "global %u is immutable", u);
                if (pop(x, t, at) < 0) return -1;
                uint32_t d = x->nvs;
                materialize_below(x, d, PF_GLOBAL);
                if (x->live) {
                    sb_fmt(&x->body, "%s=", g);
                    operand_bare(x, &x->body, t, d);
                    sb_str(&x->body, ";");
                }
                consume(x, d);
            }
            break;
        }
        case 0x3f:
        case 0x40: {
            uint8_t z;
            if (r_u8(x, &z)) return -1;
            if (z) return bad(x, at, "zero byte expected");
            if (!mi->has_memory) return bad(x, at, "unknown memory 0");
            if (op == 0x40 && pop(x, TI32, at) < 0) return -1;
            vname(x, a, TI32, x->nvs);
            if (push(x, TI32)) return -1;
            if (op == 0x3f)
                EMIT("%s=MEM.pages;", a);
            else
                EMIT("%s=kiln__rt->grow_memory(&MEM,%s);", a, a);
            break;
        }
        case 0x41: {
            int64_t v;
            if (r_sleb(x, 32, &v)) return -1;
            x->tmp.len = 0;
            sb_fmt(&x->tmp, "%uu", (uint32_t)v);
            if (push_pending(x, TI32, 0)) return -1;
            break;
        }
        case 0x42: {
            int64_t v;
            if (r_sleb(x, 64, &v)) return -1;
            x->tmp.len = 0;
            sb_fmt(&x->tmp, "%lluull", (unsigned long long)v);
            if (push_pending(x, TI64, 0)) return -1;
            break;
        }
        case 0x43:
        case 0x44: {
            const uint8_t *p;
            if (r_bytes(x, op == 0x43 ? 4 : 8, &p)) return -1;
            uint64_t bits = 0;
            for (int k = (op == 0x43 ? 4 : 8); k-- > 0;)
                bits = bits << 8 | p[k];
            int t = op == 0x43 ? TF32 : TF64;
            x->tmp.len = 0;
            if (op == 0x43)
                sb_fmt(&x->tmp, "fb(%uu)", (uint32_t)bits);
            else
                sb_fmt(&x->tmp, "db(%lluull)", (unsigned long long)bits);
            if (push_pending(x, t, 0)) return -1;
            break;
        }
        case 0xfc: {
            if (r_u32(x, &u)) return -1;
            if (u <= 7) {
                if (do_numop(x, &satops[u], at)) return -1;
            } else if (u == 10 || u == 11) {
                uint8_t z, z2 = 0;
                if (r_u8(x, &z) || (u == 10 && r_u8(x, &z2))) return -1;
                if (z || z2) return bad(x, at, "zero byte expected");
                if (!mi->has_memory) return bad(x, at, "unknown memory 0");
                if (pop(x, TI32, at) < 0 || pop(x, u == 10 ? TI32 : TI32, at) < 0 ||
                    pop(x, TI32, at) < 0)
                    return -1;
                uint32_t base = x->nvs;
                EMIT("%s(&MEM,i%u,i%u,i%u);", u == 10 ? "MC" : "MF", base, base + 1, base + 2);
            } else if (table_op(x, u, at)) {
                return -1;
            }
            break;
        }
        case 0x25:
        case 0x26: { /* table.get, table.set */
            char tb[32];
            if (r_u32(x, &u)) return -1;
            if (u >= mi->ntables) return bad(x, at, "unknown table %u", u);
            int t = mi->tables[u].vtype;
            tref(x, u, tb, sizeof tb);
            if (op == 0x26 && pop(x, t, at) < 0) return -1;
            if (pop(x, TI32, at) < 0) return -1;
            uint32_t base = x->nvs;
            if (op == 0x25) {
                if (push(x, t)) return -1;
                EMIT("%c%u=%cget(&%s,i%u);", letter(t), base, letter(t), tb, base);
            } else {
                EMIT("%cset(&%s,i%u,%c%u);", letter(t), tb, base, letter(t), base + 1);
            }
            break;
        }
        case 0xd0: { /* ref.null */
            uint8_t h;
            if (r_u8(x, &h)) return -1;
            if (h != 0x70 && h != 0x6f) return bad(x, at, "malformed reference type");
            int t = h == 0x70 ? TFUNCREF : TEXTERNREF;
            uint32_t base = x->nvs;
            if (push(x, t)) return -1;
            EMIT("%c%u=%s;", letter(t), base,
                 t == TFUNCREF ? "wasm_rt_funcref_null_value" : "wasm_rt_externref_null_value");
            break;
        }
        case 0xd1: { /* ref.is_null */
            int t = pop(x, TUNK, at);
            if (t < 0) return -1;
            if (t != TUNK && !is_ref(t)) return bad(x, at, "type mismatch: ref.is_null");
            uint32_t base = x->nvs;
            if (push(x, TI32)) return -1;
            if (t == TFUNCREF) EMIT("i%u=r%u.func==0;", base, base);
            if (t == TEXTERNREF) EMIT("i%u=e%u==0;", base, base);
            break;
        }
        case 0xd2: { /* ref.func */
            if (r_u32(x, &u)) return -1;
            if (u >= mi->nfunc_imports + mi->nfuncs) return bad(x, at, "unknown function %u", u);
            if (!x->declared[u]) return bad(x, at, "undeclared function reference %u", u);
            uint32_t base = x->nvs;
            if (push(x, TFUNCREF)) return -1;
            if (x->live) {
                sb_fmt(&x->body, "r%u=", base);
                funcref_lit(x, &x->body, u);
                if (u > x->func) x->proto[u] = 1;
                sb_str(&x->body, ";");
            }
            break;
        }
        default:
            if (op >= 0x28 && op <= 0x3e) {
                if (do_memop(x, op, at)) return -1;
                break;
            }
            if (op >= 0x45 && op <= 0xc4) {
                if (do_numop(x, &numops[op - 0x45], at)) return -1;
                break;
            }
            return bad(x, at, "illegal opcode 0x%02x", op);
        }
        if (x->body.oom) return bad(x, at, "out of memory");
    }
}

/* ---- module sections ---- */
/* A constant expression of type want (TUNK: any; the type is returned in ce->t). */
static int const_expr(X *x, int want, cexpr *ce)
{
    size_t at = x->pos;
    uint8_t o, e;
    if (r_u8(x, &o)) return -1;
    int t;
    uint64_t v = 0;
    switch (o) {
    case 0x41: {
        int64_t s;
        if (r_sleb(x, 32, &s)) return -1;
        t = TI32, v = (uint32_t)s;
        break;
    }
    case 0x42: {
        int64_t s;
        if (r_sleb(x, 64, &s)) return -1;
        t = TI64, v = (uint64_t)s;
        break;
    }
    case 0x43:
    case 0x44: {
        const uint8_t *p;
        int n = o == 0x43 ? 4 : 8;
        if (r_bytes(x, (size_t)n, &p)) return -1;
        for (int k = n; k-- > 0;)
            v = v << 8 | p[k];
        t = o == 0x43 ? TF32 : TF64;
        break;
    }
    case 0x23: {
        uint32_t g;
        if (r_u32(x, &g)) return -1;
        if (g >= x->mi->nglobal_imports)
            return bad(x, at, "unknown global %u in constant expression", g);
        if (x->mi->globals[g].mut) return bad(x, at, "constant expression required");
        t = x->mi->globals[g].vtype, v = g;
        break;
    }
    case 0xd0: {
        uint8_t h;
        if (r_u8(x, &h)) return -1;
        if (h != 0x70 && h != 0x6f) return bad(x, at, "malformed reference type");
        t = h == 0x70 ? TFUNCREF : TEXTERNREF;
        break;
    }
    case 0xd2: {
        uint32_t f;
        if (r_u32(x, &f)) return -1;
        if (f >= x->mi->nfunc_imports + x->mi->nfuncs) return bad(x, at, "unknown function %u", f);
        x->declared[f] = 1;
        t = TFUNCREF, v = f;
        break;
    }
    default:
        return bad(x, at, "constant expression required");
    }
    if (r_u8(x, &e)) return -1;
    if (e != 0x0b) return bad(x, at, "type mismatch: constant expression");
    if (want != TUNK && t != want) return bad(x, at, "type mismatch in constant expression");
    ce->op = o, ce->t = (uint8_t)t, ce->bits = v;
    return 0;
}

static int sec_global(X *x)
{
    uint32_t n;
    if (r_u32(x, &n)) return -1;
    if (n > 1000000) return bad(x, x->pos, "too many globals");
    x->globals = calloc(n ? n : 1, sizeof *x->globals);
    if (!x->globals) return bad(x, x->pos, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        uint8_t t, mut;
        if (r_u8(x, &t) || r_u8(x, &mut)) return -1;
        int vt = valtype(x, t);
        if (vt < 0) return -1;
        glob *g = &x->globals[i];
        g->vt = (uint8_t)vt, g->mut = mut;
        if (const_expr(x, vt, &g->init)) return -1;
        x->nglobals = i + 1;
    }
    return 0;
}

static int sec_elem(X *x)
{
    const kiln__modinfo *mi = x->mi;
    uint32_t n;
    if (r_u32(x, &n)) return -1;
    if (n > 1000000) return bad(x, x->pos, "too many element segments");
    x->elems = calloc(n ? n : 1, sizeof *x->elems);
    if (!x->elems) return bad(x, x->pos, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        size_t at = x->pos;
        uint32_t flags, k;
        elemseg *s = &x->elems[i];
        x->nelems = i + 1;
        if (r_u32(x, &flags)) return -1;
        if (flags > 7) return bad(x, at, "malformed elements segment kind");
        s->mode = !(flags & 1) ? SEG_ACTIVE : (flags & 2) ? SEG_DECLARED : SEG_PASSIVE;
        s->t = TFUNCREF;
        if (flags == 2 || flags == 6)
            if (r_u32(x, &s->table)) return -1;
        if (s->mode == SEG_ACTIVE && const_expr(x, TI32, &s->off)) return -1;
        if (flags & 3) { /* elemkind (0x00) or reftype */
            uint8_t kind;
            if (r_u8(x, &kind)) return -1;
            if (flags & 4) {
                if (kind != 0x70 && kind != 0x6f) return bad(x, at, "malformed reference type");
                s->t = kind == 0x70 ? TFUNCREF : TEXTERNREF;
            } else if (kind != 0) {
                return bad(x, at, "malformed element kind");
            }
        }
        if (s->mode == SEG_ACTIVE) {
            if (s->table >= mi->ntables) return bad(x, at, "unknown table %u", s->table);
            if (mi->tables[s->table].vtype != s->t)
                return bad(x, at, "type mismatch: element segment");
        }
        if (r_u32(x, &k)) return -1;
        if (k > x->end - x->pos) return bad(x, at, "element segment length out of bounds");
        s->items = malloc((k ? k : 1) * sizeof *s->items);
        if (!s->items) return bad(x, at, "out of memory");
        for (uint32_t j = 0; j < k; j++) {
            if (flags & 4) {
                cexpr ce;
                if (const_expr(x, s->t, &ce)) return -1;
                if (ce.op == 0x23) return unsup(x, "global.get in element expressions");
                s->items[j] = ce.op == 0xd2 ? (int64_t)ce.bits : -1;
            } else {
                uint32_t f;
                if (r_u32(x, &f)) return -1;
                if (f >= mi->nfunc_imports + mi->nfuncs)
                    return bad(x, at, "unknown function %u", f);
                x->declared[f] = 1;
                s->items[j] = f;
            }
            s->n = j + 1;
        }
    }
    return 0;
}

static int sec_data(X *x)
{
    uint32_t n;
    if (r_u32(x, &n)) return -1;
    if (n > 1000000) return bad(x, x->pos, "too many data segments");
    x->datas = calloc(n ? n : 1, sizeof *x->datas);
    if (!x->datas) return bad(x, x->pos, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        size_t at = x->pos;
        uint32_t flags, mem = 0;
        dataseg *d = &x->datas[i];
        if (r_u32(x, &flags)) return -1;
        if (flags > 2) return bad(x, at, "malformed data segment flags");
        d->mode = flags == 1 ? SEG_PASSIVE : SEG_ACTIVE;
        if (flags == 2 && r_u32(x, &mem)) return -1;
        if (d->mode == SEG_ACTIVE) {
            if (mem != 0 || !x->mi->has_memory) return bad(x, at, "unknown memory %u", mem);
            if (const_expr(x, TI32, &d->off)) return -1;
        }
        if (r_u32(x, &d->len) || r_bytes(x, d->len, &d->data)) return -1;
        x->ndatas = i + 1;
    }
    return 0;
}

/* The pre-check records "no maximum" as UINT32_MAX; the spec's limit check needs to
 * know whether a maximum was given. */
static int sec_memory(X *x)
{
    uint32_t n, mn, mx = 0;
    uint8_t flags;
    size_t at = x->pos;
    if (r_u32(x, &n)) return -1;
    for (uint32_t i = 0; i < n && i < 2; i++) {
        if (r_u8(x, &flags) || r_u32(x, &mn)) return -1;
        if ((flags & 1) && r_u32(x, &mx)) return -1;
        if (mn > 65536 || ((flags & 1) && mx > 65536))
            return bad(x, at, "memory size must be at most 65536 pages (4GiB)");
        if ((flags & 1) && mn > mx)
            return bad(x, at, "size minimum must not be greater than maximum");
    }
    return 0;
}

/* ---- output ---- */
/* After the instance struct and FT: segment and table helpers (table traps are table
 * traps, as Kiln's instrumentation makes them in the wasm2c tier). */
static const char prelude2[] =
    "typedef struct{u32 ft;wasm_rt_function_ptr_t f;size_t off;}EX;\n"
    "static void TI(wasm_rt_funcref_table_t*t,const EX*e,u32 sz,u32 d,u32 s,u32 n,void*m){"
    "if((u64)s+n>sz)TR(WASM_RT_TRAP_OOB_TABLE);if((u64)d+n>t->size)TR(WASM_RT_TRAP_OOB_TABLE);"
    "for(u32 k=0;k<n;k++){const EX*x=&e[s+k];t->data[d+k]=(wasm_rt_funcref_t){FT[x->ft],x->f,"
    "(char*)m+x->off};}}\n"
    "static void TE(wasm_rt_externref_table_t*t,u32 sz,u32 d,u32 s,u32 n){"
    "if((u64)s+n>sz)TR(WASM_RT_TRAP_OOB_TABLE);if((u64)d+n>t->size)TR(WASM_RT_TRAP_OOB_TABLE);"
    "for(u32 k=0;k<n;k++)t->data[d+k]=0;}\n"
    "static void MI(wasm_rt_memory_t*M,const u8*src,u32 sz,u32 d,u32 s,u32 n){"
    "if((u64)s+n>sz)TR(WASM_RT_TRAP_OOB);if((u64)d+n>M->size)TR(WASM_RT_TRAP_OOB);"
    "memcpy(M->data+d,src+s,n);}\n"
    "#define TABOPS(p,T,E) static E p##get(T*t,u32 i){if(i>=t->size)TR(WASM_RT_TRAP_OOB_TABLE);"
    "return t->data[i];}\\\n"
    "static void p##set(T*t,u32 i,E v){if(i>=t->size)TR(WASM_RT_TRAP_OOB_TABLE);t->data[i]=v;}"
    "\\\n"
    "static void p##fill(T*t,u32 d,E v,u32 n){if((u64)d+n>t->size)TR(WASM_RT_TRAP_OOB_TABLE);"
    "for(u32 k=0;k<n;k++)t->data[d+k]=v;}\\\n"
    "static void p##copy(T*a,T*b,u32 d,u32 s,u32 n){if((u64)d+n>a->size||(u64)s+n>b->size)"
    "TR(WASM_RT_TRAP_OOB_TABLE);memmove(a->data+d,b->data+s,(size_t)n*sizeof(E));}\n"
    "TABOPS(r,wasm_rt_funcref_table_t,wasm_rt_funcref_t)"
    "TABOPS(e,wasm_rt_externref_table_t,wasm_rt_externref_t)\n";

/* What the generated C needs of <stdint.h>, <string.h> and <wasm-rt.h>, declared here:
 * tcc spends ~10 M instructions reading those headers (a third of a small module's
 * compile). The layouts are checked against wasm-rt.h below; trap codes are written as
 * this build's values (rt_codes). */
static const char prelude0[] =
    "typedef unsigned char uint8_t;typedef signed char int8_t;typedef unsigned short uint16_t;"
    "typedef short int16_t;typedef unsigned uint32_t;typedef int int32_t;"
    "typedef unsigned long uint64_t;typedef long int64_t;typedef unsigned long uintptr_t;"
    "typedef unsigned long size_t;\n"
    "#define offsetof(t,m) __builtin_offsetof(t,m)\n"
    "#define INT32_MIN (-2147483647-1)\n#define INT32_MAX 2147483647\n"
    "#define UINT32_MAX 4294967295u\n#define INT64_MIN (-9223372036854775807L-1)\n"
    "#define INT64_MAX 9223372036854775807L\n#define UINT64_MAX 18446744073709551615ul\n"
    "void*memcpy(void*,const void*,size_t);void*memset(void*,int,size_t);"
    "void*memmove(void*,const void*,size_t);\n"
    "typedef void(*wasm_rt_function_ptr_t)(void);\n"
    "typedef struct{uint32_t func_type;wasm_rt_function_ptr_t func;void*module_instance;}"
    "wasm_rt_funcref_t;\n"
    "typedef void*wasm_rt_externref_t;\n"
    "static const wasm_rt_funcref_t wasm_rt_funcref_null_value={0,0,0};\n"
    "static const wasm_rt_externref_t wasm_rt_externref_null_value=0;\n"
    "typedef struct{uint8_t*data;uint32_t pages,max_pages;uint32_t size;}wasm_rt_memory_t;\n"
    "typedef struct{wasm_rt_funcref_t*data;uint32_t max_size;uint32_t size;}"
    "wasm_rt_funcref_table_t;\n"
    "typedef struct{wasm_rt_externref_t*data;uint32_t max_size;uint32_t size;}"
    "wasm_rt_externref_table_t;\n"
    ;
_Static_assert(sizeof(void *) == 8 && sizeof(long) == 8, "prelude0 assumes LP64");
_Static_assert(sizeof(wasm_rt_funcref_t) == 24 && offsetof(wasm_rt_funcref_t, func) == 8 &&
                   offsetof(wasm_rt_funcref_t, module_instance) == 16,
               "prelude0's wasm_rt_funcref_t differs from wasm-rt.h");
_Static_assert(sizeof(wasm_rt_memory_t) == 24 && offsetof(wasm_rt_memory_t, pages) == 8 &&
                   offsetof(wasm_rt_memory_t, max_pages) == 12 &&
                   offsetof(wasm_rt_memory_t, size) == 16,
               "prelude0's wasm_rt_memory_t differs from wasm-rt.h");
_Static_assert(sizeof(wasm_rt_funcref_table_t) == 16 &&
                   offsetof(wasm_rt_funcref_table_t, max_size) == 8 &&
                   offsetof(wasm_rt_funcref_table_t, size) == 12 &&
                   sizeof(wasm_rt_externref_table_t) == 16 &&
                   offsetof(wasm_rt_externref_table_t, max_size) == 8 &&
                   offsetof(wasm_rt_externref_table_t, size) == 12,
               "prelude0's table types differ from wasm-rt.h");

/* Only in modules that use them: tier 0 is linked without libraries (-nostdlib) and these
 * need libm (the pragma asks tcc for it). */
static const char prelude_math[] =
    "#pragma comment(lib,\"m\")\n"
    "double floor(double);float floorf(float);double ceil(double);float ceilf(float);"
    "double trunc(double);float truncf(float);double nearbyint(double);float nearbyintf(float);"
    "double sqrt(double);float sqrtf(float);\n"
    "#define Q(n,t,q,f) static t n(t x){return x!=x?q(x):f(x);}\n"
    "Q(Ff,f32,qf,floorf)Q(Fd,f64,qd,floor)Q(Cf,f32,qf,ceilf)Q(Cd,f64,qd,ceil)Q(Tf,f32,qf,truncf)"
    "Q(Td,f64,qd,trunc)Q(Nf,f32,qf,nearbyintf)Q(Nd,f64,qd,nearbyint)Q(Sf,f32,qf,sqrtf)"
    "Q(Sd,f64,qd,sqrt)\n";

/* kiln_abi.h's text (embedded by wasm_compile.c) without its #include lines: the ABI has
 * one source, and tcc opens no header. */
extern const char kiln__abi_text[];
static void abi_text(sb *s)
{
    for (const char *p = kiln__abi_text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (strncmp(p, "#include <", 10) != 0) sb_add(s, p, n);
        p += n;
    }
}

static void rt_codes(sb *s)
{
    sb_fmt(s,
           "enum{WASM_RT_TRAP_OOB=%d,WASM_RT_TRAP_INT_OVERFLOW=%d,WASM_RT_TRAP_DIV_BY_ZERO=%d,"
           "WASM_RT_TRAP_INVALID_CONVERSION=%d,WASM_RT_TRAP_UNREACHABLE=%d,"
           "WASM_RT_TRAP_EXHAUSTION=%d};\n",
           WASM_RT_TRAP_OOB, WASM_RT_TRAP_INT_OVERFLOW, WASM_RT_TRAP_DIV_BY_ZERO,
           WASM_RT_TRAP_INVALID_CONVERSION, WASM_RT_TRAP_UNREACHABLE, WASM_RT_TRAP_EXHAUSTION);
}

static const char prelude[] =
    "typedef uint8_t u8;typedef int8_t s8;typedef uint16_t u16;typedef int16_t s16;"
    "typedef uint32_t u32;typedef int32_t s32;typedef uint64_t u64;typedef int64_t s64;"
    "typedef float f32;typedef double f64;\n"
    "static const kiln__rt_api*kiln__rt;\n"
    "static void TR(int c){kiln__rt->trap(c);}\n"
    /* function entry (stack limit, then a fuel tick) and loop headers (a fuel tick); the
     * stack check sees E's own frame, a few bytes below the caller's */
    "static void F(void*m){kiln__tick*K=(kiln__tick*)m-1;if(--K->fuel<0)kiln__rt->fuel_slow(m);}\n"
    "static void S(void*m){kiln__tick*K=(kiln__tick*)m-1;"
    "if((uintptr_t)__builtin_frame_address(0)<K->stack_limit)TR(WASM_RT_TRAP_EXHAUSTION);}\n"
    "static void E(void*m){kiln__tick*K=(kiln__tick*)m-1;"
    "if((uintptr_t)__builtin_frame_address(0)<K->stack_limit)TR(WASM_RT_TRAP_EXHAUSTION);"
    "if(--K->fuel<0)kiln__rt->fuel_slow(m);}\n"
    "#define TRAP(x) (TR(WASM_RT_TRAP_##x),0)\n"

    "static f32 fb(u32 x){f32 r;memcpy(&r,&x,4);return r;}\n"
    "static f64 db(u64 x){f64 r;memcpy(&r,&x,8);return r;}\n"
    "static u32 bf(f32 x){u32 r;memcpy(&r,&x,4);return r;}\n"
    "static u64 bd(f64 x){u64 r;memcpy(&r,&x,8);return r;}\n"
    "static f32 qf(f32 x){return x!=x?fb(bf(x)|0x7fc00000u):x;}\n"
    "static f64 qd(f64 x){return x!=x?db(bd(x)|0x7ff8000000000000ull):x;}\n"
    "static f32 minf(f32 x,f32 y){return x!=x||y!=y?fb(0x7fc00000u):x==0&&y==0?(bf(x)>>31?x:y):"
    "x<y?x:y;}\n"
    "static f32 maxf(f32 x,f32 y){return x!=x||y!=y?fb(0x7fc00000u):x==0&&y==0?(bf(x)>>31?y:x):"
    "x>y?x:y;}\n"
    "static f64 mind(f64 x,f64 y){return x!=x||y!=y?db(0x7ff8000000000000ull):x==0&&y==0?"
    "(bd(x)>>63?x:y):x<y?x:y;}\n"
    "static f64 maxd(f64 x,f64 y){return x!=x||y!=y?db(0x7ff8000000000000ull):x==0&&y==0?"
    "(bd(x)>>63?y:x):x>y?x:y;}\n"
    "static u32 clz64(u64 x){u32 n=0;if(!x)return 64;while(!(x>>63)){x<<=1;n++;}return n;}\n"
    "static u32 ctz64(u64 x){u32 n=0;if(!x)return 64;while(!(x&1)){x>>=1;n++;}return n;}\n"
    "static u32 pop64(u64 x){u32 n=0;while(x){x&=x-1;n++;}return n;}\n"
    "#define I32_CLZ(x) ((x)?clz64((u64)(u32)(x))-32:32)\n#define I64_CLZ(x) clz64(x)\n"
    "#define I32_CTZ(x) ((x)?ctz64((u64)(u32)(x)):32)\n#define I64_CTZ(x) ctz64(x)\n"
    "#define I32_POPCNT(x) pop64((u64)(u32)(x))\n#define I64_POPCNT(x) pop64(x)\n"
    "#define DIV_S(ut,min,x,y) ((y)==0?TRAP(DIV_BY_ZERO):((x)==min&&(y)==-1)?TRAP(INT_OVERFLOW):"
    "(ut)((x)/(y)))\n"
    "#define REM_S(ut,min,x,y) ((y)==0?TRAP(DIV_BY_ZERO):((x)==min&&(y)==-1)?0:(ut)((x)%(y)))\n"
    "#define I32_DIV_S(x,y) DIV_S(u32,INT32_MIN,(s32)x,(s32)y)\n"
    "#define I64_DIV_S(x,y) DIV_S(u64,INT64_MIN,(s64)x,(s64)y)\n"
    "#define I32_REM_S(x,y) REM_S(u32,INT32_MIN,(s32)x,(s32)y)\n"
    "#define I64_REM_S(x,y) REM_S(u64,INT64_MIN,(s64)x,(s64)y)\n"
    "#define DIV_U(x,y) ((y)==0?TRAP(DIV_BY_ZERO):((x)/(y)))\n"
    "#define REM_U(x,y) ((y)==0?TRAP(DIV_BY_ZERO):((x)%(y)))\n"
    "#define ROTL(x,y,k) (((x)<<((y)&(k)))|((x)>>(((k)-(y)+1)&(k))))\n"
    "#define ROTR(x,y,k) (((x)>>((y)&(k)))|((x)<<(((k)-(y)+1)&(k))))\n"
    "#define I32_ROTL(x,y) ROTL(x,y,31)\n#define I64_ROTL(x,y) ROTL(x,y,63)\n"
    "#define I32_ROTR(x,y) ROTR(x,y,31)\n#define I64_ROTR(x,y) ROTR(x,y,63)\n"
    "#define TRUNC_S(ut,st,ft,min,minop,max,x) (((x)!=(x))?TRAP(INVALID_CONVERSION):"
    "(!((x)minop(min)&&(x)<(max)))?TRAP(INT_OVERFLOW):(ut)(st)(x))\n"
    "#define I32_TRUNC_S_F32(x) TRUNC_S(u32,s32,f32,(f32)INT32_MIN,>=,2147483648.f,x)\n"
    "#define I64_TRUNC_S_F32(x) TRUNC_S(u64,s64,f32,(f32)INT64_MIN,>=,(f32)INT64_MAX,x)\n"
    "#define I32_TRUNC_S_F64(x) TRUNC_S(u32,s32,f64,-2147483649.,>,2147483648.,x)\n"
    "#define I64_TRUNC_S_F64(x) TRUNC_S(u64,s64,f64,(f64)INT64_MIN,>=,(f64)INT64_MAX,x)\n"
    "#define TRUNC_U(ut,ft,max,x) (((x)!=(x))?TRAP(INVALID_CONVERSION):"
    "(!((x)>(ft)-1&&(x)<(max)))?TRAP(INT_OVERFLOW):(ut)(x))\n"
    "#define I32_TRUNC_U_F32(x) TRUNC_U(u32,f32,4294967296.f,x)\n"
    "#define I64_TRUNC_U_F32(x) TRUNC_U(u64,f32,(f32)UINT64_MAX,x)\n"
    "#define I32_TRUNC_U_F64(x) TRUNC_U(u32,f64,4294967296.,x)\n"
    "#define I64_TRUNC_U_F64(x) TRUNC_U(u64,f64,(f64)UINT64_MAX,x)\n"
    "#define TRUNC_SAT_S(ut,st,ft,min,smin,minop,max,smax,x) (((x)!=(x))?0:(!((x)minop(min)))?"
    "smin:(!((x)<(max)))?smax:(ut)(st)(x))\n"
    "#define I32_TRUNC_SAT_S_F32(x) TRUNC_SAT_S(u32,s32,f32,(f32)INT32_MIN,INT32_MIN,>=,"
    "2147483648.f,INT32_MAX,x)\n"
    "#define I64_TRUNC_SAT_S_F32(x) TRUNC_SAT_S(u64,s64,f32,(f32)INT64_MIN,INT64_MIN,>=,"
    "(f32)INT64_MAX,INT64_MAX,x)\n"
    "#define I32_TRUNC_SAT_S_F64(x) TRUNC_SAT_S(u32,s32,f64,-2147483649.,INT32_MIN,>,"
    "2147483648.,INT32_MAX,x)\n"
    "#define I64_TRUNC_SAT_S_F64(x) TRUNC_SAT_S(u64,s64,f64,(f64)INT64_MIN,INT64_MIN,>=,"
    "(f64)INT64_MAX,INT64_MAX,x)\n"
    "#define TRUNC_SAT_U(ut,ft,max,smax,x) (((x)!=(x))?0:(!((x)>(ft)-1))?0:(!((x)<(max)))?smax:"
    "(ut)(x))\n"
    "#define I32_TRUNC_SAT_U_F32(x) TRUNC_SAT_U(u32,f32,4294967296.f,UINT32_MAX,x)\n"
    "#define I64_TRUNC_SAT_U_F32(x) TRUNC_SAT_U(u64,f32,(f32)UINT64_MAX,UINT64_MAX,x)\n"
    "#define I32_TRUNC_SAT_U_F64(x) TRUNC_SAT_U(u32,f64,4294967296.,UINT32_MAX,x)\n"
    "#define I64_TRUNC_SAT_U_F64(x) TRUNC_SAT_U(u64,f64,(f64)UINT64_MAX,UINT64_MAX,x)\n"
    "static wasm_rt_funcref_t*CI(wasm_rt_funcref_table_t*t,u32 x,u32 ft){wasm_rt_funcref_t*e;"
    "if(x>=t->size)TR(WASM_RT_TRAP_UNINIT_ELEM);e=&t->data[x];if(!e->func)"
    "TR(WASM_RT_TRAP_UNINIT_ELEM);if(e->func_type!=ft)TR(WASM_RT_TRAP_TYPE_MISMATCH);return e;}\n"
    "static void MF(wasm_rt_memory_t*M,u32 d,u32 v,u32 n){if((u64)d+n>M->size)"
    "TR(WASM_RT_TRAP_OOB);memset(M->data+d,(int)v,n);}\n"
    "static void MC(wasm_rt_memory_t*M,u32 d,u32 s,u32 n){if((u64)d+n>M->size||(u64)s+n>M->size)"
    "TR(WASM_RT_TRAP_OOB);memmove(M->data+d,M->data+s,n);}\n"
    "static u64 CK(wasm_rt_memory_t*M,u64 a,u64 n){if(a+n>M->size)TR(WASM_RT_TRAP_OOB);"
    "return a;}\n";

static void func_proto(X *x, sb *s, uint32_t f, bool names)
{
    const kiln_wasm_sig *sig = &x->mi->types[x->mi->func_types[f]];
    sb_str(s, "static ");
    ret_type(x, s, sig);
    sb_fmt(s, " w%u(I*m", f);
    for (int k = 0; k < sig->nparams; k++) {
        sb_fmt(s, ",%s", cgen_ctype(sig->params[k]));
        if (names) sb_fmt(s, " l%d", k);
    }
    sb_str(s, ")");
}

/* Import thunks: identical in behaviour to wasm_compile.c's (typed host function fast
 * path, generic path through the runtime). */
static void import_thunk(X *x, uint32_t i)
{
    const kiln__import *im = &x->mi->imports[i];
    const kiln_wasm_sig *sig = &x->mi->types[im->type_index];
    sb *s = &x->out;
    uint32_t fidx = 0; /* thunks are named by function index, hf[] is by import index */
    for (uint32_t k = 0; k < i; k++)
        fidx += x->mi->imports[k].kind == KILN__EXT_FUNC;
    sb_str(s, "static ");
    ret_type(x, s, sig);
    sb_fmt(s, " h%u(void*c0", fidx);
    for (int k = 0; k < sig->nparams; k++)
        sb_fmt(s, ",%s a%d", cgen_ctype(sig->params[k]), k);
    sb_str(s, "){void*c=*(void**)c0;\n");
    if (sig->nresults <= 1) {
        sb_fmt(s, "if(kiln__hf[%u]){", i);
        if (sig->nresults) sb_fmt(s, "%s r=", cgen_ctype(sig->results[0]));
        sb_str(s, "((");
        ret_type(x, s, sig);
        sb_str(s, "(*)(void*");
        for (int k = 0; k < sig->nparams; k++)
            sb_fmt(s, ",%s", cgen_ctype(sig->params[k]));
        sb_fmt(s, "))kiln__hf[%u])(c", i);
        for (int k = 0; k < sig->nparams; k++)
            sb_fmt(s, ",a%d", k);
        sb_str(s, ");if(((kiln__ctx_head*)c)->failed)kiln__rt->host_check(c);");
        sb_str(s, sig->nresults ? "return r;}\n" : "return;}\n");
    }
    sb_fmt(s, "{kiln__val a[%d],r[%d];\n", sig->nparams + 1, sig->nresults + 1);
    cgen_pack_args(s, sig);
    sb_fmt(s, "kiln__rt->generic_import(c,%u,a,r);\n", i);
    if (sig->nresults == 1) {
        sb_str(s, "return ");
        cgen_val_in(s, sig->results[0], "r", 0);
        sb_str(s, ";");
    } else if (sig->nresults > 1) {
        ret_type(x, s, sig);
        sb_str(s, " v;");
        for (int k = 0; k < sig->nresults; k++) {
            sb_fmt(s, "v.%c%d=", letter(sig->results[k]), k);
            cgen_val_in(s, sig->results[k], "r", k);
            sb_str(s, ";");
        }
        sb_str(s, "return v;");
    }
    sb_str(s, "}}\n");
}

/* Lvalues of globals and tables (imported ones live behind a pointer field). */
static void gref(const X *x, uint32_t g, char *buf, size_t cap)
{
    if (g < x->mi->nglobal_imports)
        snprintf(buf, cap, "(*m->p%u)", x->imp_of[x->gimp0 + g]);
    else
        snprintf(buf, cap, "m->g%u", g);
}
static bool table_imported(const X *x, uint32_t t)
{
    return x->imp_of[x->timp0 + t] != UINT32_MAX;
}
static void tref(const X *x, uint32_t t, char *buf, size_t cap)
{
    if (table_imported(x, t))
        snprintf(buf, cap, "(*m->p%u)", x->imp_of[x->timp0 + t]);
    else
        snprintf(buf, cap, "m->T%u", t);
}

/* A funcref value for function f (imports: the thunk, closed over the env field). */
static void funcref_lit(const X *x, sb *s, uint32_t f)
{
    if (f < x->mi->nfunc_imports)
        sb_fmt(s, "(wasm_rt_funcref_t){FT[%u],(wasm_rt_function_ptr_t)h%u,&m->env}",
               x->mi->func_types[f], f);
    else
        sb_fmt(s, "(wasm_rt_funcref_t){FT[%u],(wasm_rt_function_ptr_t)w%u,m}", x->mi->func_types[f],
               f);
}

static void cexpr_c(const X *x, sb *s, const cexpr *ce)
{
    char g[32];
    switch (ce->op) {
    case 0x41:
        sb_fmt(s, "%uu", (uint32_t)ce->bits);
        break;
    case 0x42:
        sb_fmt(s, "%lluull", (unsigned long long)ce->bits);
        break;
    case 0x43:
        sb_fmt(s, "fb(%uu)", (uint32_t)ce->bits);
        break;
    case 0x44:
        sb_fmt(s, "db(%lluull)", (unsigned long long)ce->bits);
        break;
    case 0x23:
        gref(x, (uint32_t)ce->bits, g, sizeof g);
        sb_str(s, g);
        break;
    case 0xd0:
        sb_str(s,
               ce->t == TFUNCREF ? "wasm_rt_funcref_null_value" : "wasm_rt_externref_null_value");
        break;
    default:
        funcref_lit(x, s, (uint32_t)ce->bits);
        break;
    }
}

/* wasm2c keeps a "dropped" flag only for non-empty passive segments (an empty one reads
 * the same dropped or not). */
static bool flagged_data(const dataseg *d)
{
    return d->mode == SEG_PASSIVE && d->len > 0;
}
static bool flagged_elem(const elemseg *e)
{
    return e->mode == SEG_PASSIVE && e->n > 0;
}

static bool risky_multi(const kiln_wasm_sig *s)
{
    static const unsigned sz[] = {4, 8, 4, 8, 24, 8};
    unsigned bytes = 0;
    bool fl = false, in = false;
    if (s->nresults < 2) return false;
    for (int k = 0; k < s->nresults; k++) {
        unsigned z = sz[s->results[k] % 6];
        bytes = (bytes + z - 1) / z * z + z;
        if (s->results[k] == TF32 || s->results[k] == TF64)
            fl = true;
        else
            in = true;
    }
    return bytes <= 16 && fl && in;
}

/* Instance struct in wasm2c 1.0.32's member order: env pointer (if any function import), one
 * pointer per non-function import, globals, memory, tables, then one bit per passive data
 * and element segment. kiln__lay lists the non-bitfield members' offsets. */
static void instance_struct(X *x, sb *lay, uint32_t *nlay)
{
    const kiln__modinfo *mi = x->mi;
    sb *s = &x->out;
    sb_str(s, "typedef struct I {");
#define MEMBER(...)                                                                                \
    do {                                                                                           \
        char nm_[32];                                                                              \
        snprintf(nm_, sizeof nm_, __VA_ARGS__);                                                    \
        sb_fmt(lay, "offsetof(I,%s),", nm_);                                                       \
        ++*nlay;                                                                                   \
    } while (0)
    if (mi->nfunc_imports) { /* wasm2c keeps the env pointer only for function imports */
        sb_str(s, "void*env;");
        MEMBER("env");
    }
    for (uint32_t i = 0; i < mi->nimports; i++) {
        const kiln__import *im = &mi->imports[i];
        switch (im->kind) {
        case KILN__EXT_MEMORY:
            sb_fmt(s, "wasm_rt_memory_t*p%u;", i);
            break;
        case KILN__EXT_TABLE:
            sb_fmt(s, "%s*p%u;",
                   im->vtype == TFUNCREF ? "wasm_rt_funcref_table_t" : "wasm_rt_externref_table_t",
                   i);
            break;
        case KILN__EXT_GLOBAL:
            sb_fmt(s, "%s*p%u;", cgen_ctype(im->vtype), i);
            break;
        default:
            continue;
        }
        MEMBER("p%u", i);
    }
    for (uint32_t g = mi->nglobal_imports; g < mi->nglobals; g++) {
        sb_fmt(s, "%s g%u;", cgen_ctype(mi->globals[g].vtype), g);
        MEMBER("g%u", g);
    }
    if (mi->has_memory && !mi->memory_imported) {
        sb_str(s, "wasm_rt_memory_t M0;");
        MEMBER("M0");
    }
    for (uint32_t t = 0; t < mi->ntables; t++) {
        if (table_imported(x, t)) continue;
        sb_fmt(s, "%s T%u;",
               mi->tables[t].vtype == TFUNCREF ? "wasm_rt_funcref_table_t"
                                               : "wasm_rt_externref_table_t",
               t);
        MEMBER("T%u", t);
    }
    /* wasm2c's "dropped" flags are bool bitfields; tcc packs those differently from gcc, so
     * they are an explicit byte array with gcc's x86-64 layout (consecutive bits, LSB first,
     * from the next byte) */
    uint32_t nbits = 0;
    for (uint32_t d = 0; d < x->ndatas; d++)
        if (flagged_data(&x->datas[d])) x->datas[d].bit = nbits++;
    for (uint32_t e = 0; e < x->nelems; e++)
        if (flagged_elem(&x->elems[e])) x->elems[e].bit = nbits++;
    x->nflag_bytes = (nbits + 7) / 8;
    if (nbits) sb_fmt(s, "u8 F[%u];", x->nflag_bytes);
    /* wasm2c adds a dummy member when the module has no global, memory or table at all */
    /* tcc 0.9.27 returns some small mixed float/integer structs in other registers than gcc
     * (e.g. {f64, u32}): tier-0 functions with such results may sit in tables that tier-1
     * code calls, so such modules never get the swap (a layout entry gcc never produces). */
    for (uint32_t t = 0; t < mi->ntypes; t++)
        if (risky_multi(&mi->types[t])) {
            sb_str(lay, "0xffffffffu,");
            ++*nlay;
            break;
        }
    if (!mi->nglobals && !mi->has_memory && !mi->ntables) {
        sb_str(s, "char dummy_member;");
        MEMBER("dummy_member");
    }
#undef MEMBER
    sb_str(s, "} I;\n");
}

/* Segment data for memory.init / table.init and instantiation. */
static void segments_out(X *x)
{
    sb *s = &x->out;
    for (uint32_t d = 0; d < x->ndatas; d++) {
        const dataseg *ds = &x->datas[d];
        sb_fmt(s, "static const u8 D%u[%u]={", d, ds->len ? ds->len : 1);
        for (uint32_t k = 0; k < ds->len; k++)
            sb_fmt(s, "%u,", ds->data[k]);
        sb_str(s, "};\n");
    }
    for (uint32_t e = 0; e < x->nelems; e++) {
        const elemseg *es = &x->elems[e];
        if (es->t != TFUNCREF) continue;
        sb_fmt(s, "static const EX E%u[%u]={", e, es->n ? es->n : 1);
        for (uint32_t k = 0; k < es->n; k++) {
            int64_t f = es->items[k];
            if (f < 0)
                sb_str(s, "{0,0,0},");
            else if ((uint64_t)f < x->mi->nfunc_imports)
                sb_fmt(s, "{%u,(wasm_rt_function_ptr_t)h%u,offsetof(I,env)},", x->mi->func_types[f],
                       (uint32_t)f);
            else
                sb_fmt(s, "{%u,(wasm_rt_function_ptr_t)w%u,0},", x->mi->func_types[f], (uint32_t)f),
                    x->proto[f] = 1;
        }
        sb_str(s, "};\n");
    }
}

static int module_out(X *x)
{
    const kiln__modinfo *mi = x->mi;
    sb *s = &x->out;
    uint32_t nlay = 0;
    char tb[32];
    sb_str(s, prelude0);
    abi_text(s);
    rt_codes(s);
    sb_str(s, prelude);
    size_t math_at = s->len; /* prelude_math goes here if a function body needs it */
    if (x->mem_imp >= 0)
        sb_fmt(s, "#define MEM (*m->p%u)\n", (uint32_t)x->mem_imp);
    else
        sb_str(s, "#define MEM m->M0\n");
    instance_struct(x, &x->lay, &nlay);
    for (uint32_t t = 0; t < mi->ntypes; t++) /* multi-value structs before any use */
        if (mi->types[t].nresults > 1) {
            char nm[80];
            multi_name(x, &mi->types[t], nm);
        }
    sb_fmt(s, "static u32 FT[%u];\nstatic void (*kiln__hf[%u])(void);\n",
           mi->ntypes ? mi->ntypes : 1, mi->nimports ? mi->nimports : 1);
    sb_str(s, prelude2);
    for (uint32_t i = 0; i < mi->nimports; i++)
        if (mi->imports[i].kind == KILN__EXT_FUNC) import_thunk(x, i);
    uint32_t nf = mi->nfunc_imports + mi->nfuncs;
    /* Prototypes only of functions named before their definition (elements, forward calls,
     * ref.func): ~3 K tcc instructions each. Spliced in here once the bodies are known. */
    x->proto = calloc(nf ? nf : 1, 1);
    if (!x->proto) return bad(x, 0, "out of memory");
    size_t proto_at = s->len;
    segments_out(x);
    /* function bodies */
    x->pos = x->code_pos, x->end = x->code_end;
    uint32_t n;
    if (x->code_pos == 0 && mi->nfuncs) return bad(x, 0, "code section missing");
    if (mi->nfuncs) {
        if (r_u32(x, &n)) return -1;
        if (n != mi->nfuncs)
            return bad(x, x->pos, "function and code section have inconsistent lengths");
    }
    for (uint32_t i = 0; i < mi->nfuncs; i++) {
        uint32_t size;
        x->func = -1;
        x->end = x->code_end;
        if (r_u32(x, &size)) return -1;
        if (size > x->code_end - x->pos) return bad(x, x->pos, "function body out of bounds");
        size_t body_end = x->pos + size;
        uint32_t f = mi->nfunc_imports + i;
        if (func_body(x, f, body_end)) return -1;
        x->pos = body_end;
        const kiln_wasm_sig *sig = &mi->types[mi->func_types[f]];
        func_proto(x, s, f, true);
        sb_str(s, "{");
        if (x->fmem) {
            if (x->mem_imp >= 0)
                sb_fmt(s, "u8*M=m->p%u->data;", (uint32_t)x->mem_imp);
            else
                sb_str(s, "u8*M=m->M0.data;");
        }
        for (uint32_t l = sig->nparams; l < x->nlocals; l++) {
            sb_fmt(s, "%s l%u=", cgen_ctype(x->lt[l]), l);
            sb_str(s, x->lt[l] == TFUNCREF ? "{0};" : "0;");
        }
        for (int t = 0; t < 6; t++) {
            bool first = true;
            for (uint32_t d = 0; d < x->dmax; d++)
                if (x->dused[(size_t)t * MAX_STACK + d]) {
                    if (first)
                        sb_fmt(s, "%s %c%u", cgen_ctype(t), letter(t), d);
                    else
                        sb_fmt(s, ",%c%u", letter(t), d);
                    first = false;
                }
            if (!first) sb_str(s, ";");
        }
        if (x->extra.len) sb_add(s, x->extra.p, x->extra.len);
        sb_str(s, "\n");
        sb_add(s, x->body.p, x->body.len);
        sb_str(s, "}\n");
        if (s->oom) return bad(x, 0, "out of memory");
    }
    x->func = -1;
    sb protos = {0};
    for (uint32_t f = mi->nfunc_imports; f < nf; f++)
        if (x->proto[f]) {
            func_proto(x, &protos, f, false);
            sb_str(&protos, ";\n");
        }
    if (protos.len) { /* splice the prototypes in at proto_at (before math_at's splice) */
        size_t tail = s->len - proto_at;
        sb_add(s, protos.p, protos.len);
        if (!s->oom) {
            memmove(s->p + proto_at + protos.len, s->p + proto_at, tail);
            memcpy(s->p + proto_at, protos.p, protos.len);
        }
    }
    free(protos.p);
    if (protos.oom || s->oom) return bad(x, 0, "out of memory");
    if (x->libm) { /* splice prelude_math in at math_at */
        size_t mn = sizeof prelude_math - 1, tail = s->len - math_at;
        sb_add(s, prelude_math, mn); /* grows the buffer */
        if (s->oom) return bad(x, 0, "out of memory");
        memmove(s->p + math_at + mn, s->p + math_at, tail);
        memcpy(s->p + math_at, prelude_math, mn);
    }
    /* instantiate, in wasm2c's order: imports, globals, memory and data, tables and
     * elements, segment flags, start */
    sb_str(s, "static void kiln__inst(void*i,void*env){I*m=i;(void)env;\n");
    if (mi->nfunc_imports) sb_str(s, "m->env=env;\n");
    for (uint32_t i = 0; i < mi->nimports; i++)
        if (mi->imports[i].kind != KILN__EXT_FUNC)
            sb_fmt(s, "m->p%u=kiln__rt->import_ptr(*(void**)env,%u);\n", i, i);
    for (uint32_t g = 0; g < x->nglobals; g++) {
        sb_fmt(s, "m->g%u=", g + mi->nglobal_imports);
        cexpr_c(x, s, &x->globals[g].init);
        sb_str(s, ";");
    }
    if (mi->has_memory && !mi->memory_imported)
        sb_fmt(s, "kiln__rt->allocate_memory(&m->M0,%uu,%uu);\n", mi->mem_min,
               mi->mem_max == UINT32_MAX ? 65536u : mi->mem_max);
    for (uint32_t d = 0; d < x->ndatas; d++) {
        const dataseg *ds = &x->datas[d];
        if (ds->mode != SEG_ACTIVE) continue;
        sb_str(s, "MI(&MEM,D");
        sb_fmt(s, "%u,%u,", d, ds->len);
        cexpr_c(x, s, &ds->off);
        sb_fmt(s, ",0,%u);\n", ds->len);
    }
    for (uint32_t t = 0; t < mi->ntables; t++)
        if (!table_imported(x, t))
            sb_fmt(s, "kiln__rt->allocate_%s_table(&m->T%u,%uu,%uu);\n",
                   mi->tables[t].vtype == TFUNCREF ? "funcref" : "externref", t, mi->tables[t].min,
                   mi->tables[t].max);
    for (uint32_t e = 0; e < x->nelems; e++) {
        const elemseg *es = &x->elems[e];
        if (es->mode != SEG_ACTIVE) continue;
        tref(x, es->table, tb, sizeof tb);
        if (es->t == TFUNCREF)
            sb_fmt(s, "TI(&%s,E%u,%u,", tb, e, es->n);
        else
            sb_fmt(s, "TE(&%s,%u,", tb, es->n);
        cexpr_c(x, s, &es->off);
        sb_fmt(s, ",0,%u%s);\n", es->n, es->t == TFUNCREF ? ",m" : "");
    }
    if (x->nflag_bytes) sb_fmt(s, "memset(m->F,0,%u);\n", x->nflag_bytes);
    if (mi->has_start) {
        if (mi->start >= mi->nfunc_imports + mi->nfuncs)
            return bad(x, 0, "unknown function %u (start)", mi->start);
        const kiln_wasm_sig *ss = &mi->types[mi->func_types[mi->start]];
        if (ss->nparams || ss->nresults) return bad(x, 0, "start function must be [] -> []");
        if (mi->start < mi->nfunc_imports)
            sb_fmt(s, "h%u(&m->env);\n", mi->start);
        else
            sb_fmt(s, "w%u(m);\n", mi->start);
    }
    sb_str(s, "}\nstatic void kiln__free(void*i){I*m=i;(void)m;");
    if (mi->has_memory && !mi->memory_imported) sb_str(s, "kiln__rt->free_memory(&m->M0);");
    for (uint32_t t = 0; t < mi->ntables; t++)
        if (!table_imported(x, t))
            sb_fmt(s, "kiln__rt->free_%s_table(&m->T%u);",
                   mi->tables[t].vtype == TFUNCREF ? "funcref" : "externref", t);
    sb_str(s, "}\n");
    /* export trampolines and pointers */
    uint32_t nfx = 0;
    sb idx = {0};
    for (uint32_t e = 0; e < mi->nexports; e++) {
        const kiln__export_info *ei = &mi->exports[e];
        if (ei->kind != KILN__EXT_FUNC) continue;
        const kiln_wasm_sig *sig = &mi->types[mi->func_types[ei->index]];
        sb_fmt(s, "static void t%u(void*i,const kiln__val*a,kiln__val*r){", nfx);
        if (sig->nresults) {
            ret_type(x, s, sig);
            sb_str(s, " v=");
        }
        if (ei->index < mi->nfunc_imports)
            sb_fmt(s, "h%u(&((I*)i)->env", ei->index);
        else
            sb_fmt(s, "w%u((I*)i", ei->index);
        for (int k = 0; k < sig->nparams; k++) {
            sb_str(s, ",");
            cgen_val_in(s, sig->params[k], "a", k);
        }
        sb_str(s, ");");
        if (sig->nresults == 1) {
            cgen_val_out(s, sig->results[0], "r", 0, "v");
        } else {
            for (int k = 0; k < sig->nresults; k++) {
                char ex[16];
                snprintf(ex, sizeof ex, "v.%c%d", letter(sig->results[k]), k);
                cgen_val_out(s, sig->results[k], "r", k, ex);
            }
        }
        sb_str(s, "(void)a;(void)r;}\n");
        sb_fmt(&idx, "%u,", e);
        nfx++;
    }
    sb_fmt(s, "static const kiln__tramp kiln__tramps[%u]={", nfx ? nfx : 1);
    for (uint32_t k = 0; k < nfx; k++)
        sb_fmt(s, "t%u,", k);
    sb_fmt(s, "%s};\nstatic const uint32_t kiln__exidx[%u]={", nfx ? "" : "0", nfx ? nfx : 1);
    if (idx.p) sb_str(s, idx.p);
    sb_str(s, nfx ? "};\n" : "0};\n");
    free(idx.p);
    sb_str(s, "static void*kiln__xptr(void*i,uint32_t e){I*m=i;(void)m;switch(e){\n");
    for (uint32_t e = 0; e < mi->nexports; e++) {
        const kiln__export_info *ei = &mi->exports[e];
        switch (ei->kind) {
        case KILN__EXT_MEMORY:
            if (!mi->has_memory || ei->index != 0) {
                return bad(x, 0, "unknown memory %u", ei->index);
            }
            sb_fmt(s, "case %u:return &MEM;\n", e);
            break;
        case KILN__EXT_TABLE:
            if (ei->index >= mi->ntables) {
                return bad(x, 0, "unknown table %u", ei->index);
            }
            tref(x, ei->index, tb, sizeof tb);
            sb_fmt(s, "case %u:return &%s;\n", e, tb);
            break;
        case KILN__EXT_GLOBAL:
            if (ei->index >= mi->nglobals) {
                return bad(x, 0, "unknown global %u", ei->index);
            }
            gref(x, ei->index, tb, sizeof tb);
            sb_fmt(s, "case %u:return &%s;\n", e, tb);
            break;
        default:
            break;
        }
    }
    sb_str(s, "default:return 0;}}\n");
    sb_fmt(s, "static wasm_rt_memory_t*kiln__mem(void*i){I*m=i;(void)m;return %s;}\n",
           mi->has_memory ? "&MEM" : "0");
    sb_fmt(s, "static const uint32_t kiln__lay[%u]={", nlay ? nlay : 1);
    if (x->lay.p) sb_str(s, x->lay.p);
    sb_str(s, nlay ? "};\n" : "0};\n");
    sb_fmt(s,
           "static const kiln__module_desc kiln__desc={KILN__ABI_VERSION,sizeof(I),kiln__inst,"
           "kiln__free,kiln__mem,%u,kiln__tramps,kiln__exidx,kiln__xptr,%u,kiln__lay};\n",
           nfx, nlay);
    sb_str(s, "__attribute__((visibility(\"default\"))) const kiln__module_desc*kiln__entry(const "
              "kiln__rt_api*rt,void(*const*hf)(void),uint32_t n){\n"
              "if(rt->abi_version!=KILN__ABI_VERSION)return 0;kiln__rt=rt;\n");
    sb_fmt(s, "for(uint32_t k=0;k<n&&k<%u;k++)kiln__hf[k]=hf[k];\n",
           mi->nimports ? mi->nimports : 1);
    for (uint32_t t = 0; t < mi->ntypes; t++) {
        const kiln_wasm_sig *sig = &mi->types[t];
        sb_fmt(s, "{int ty[%d]={", sig->nparams + sig->nresults + 1);
        for (int k = 0; k < sig->nparams; k++)
            sb_fmt(s, "%d,", sig->params[k]);
        for (int k = 0; k < sig->nresults; k++)
            sb_fmt(s, "%d,", sig->results[k]);
        sb_fmt(s, "0};FT[%u]=rt->register_func_type(%d,%d,ty);}\n", t, sig->nparams, sig->nresults);
    }
    sb_str(s, "return &kiln__desc;}\n");
    if (s->oom) return bad(x, 0, "out of memory");
    return 0;
}

/* Import index of every global, table and the memory (UINT32_MAX: defined). */
static int map_imports(X *x)
{
    const kiln__modinfo *mi = x->mi;
    x->gimp0 = 0, x->timp0 = mi->nglobals;
    x->imp_of = malloc(((size_t)mi->nglobals + mi->ntables + 1) * sizeof *x->imp_of);
    if (!x->imp_of) return bad(x, 0, "out of memory");
    for (size_t k = 0; k < (size_t)mi->nglobals + mi->ntables + 1; k++)
        x->imp_of[k] = UINT32_MAX;
    uint32_t g = 0, t = 0;
    x->mem_imp = -1;
    for (uint32_t i = 0; i < mi->nimports; i++) {
        switch (mi->imports[i].kind) {
        case KILN__EXT_GLOBAL:
            if (g >= mi->nglobals) return bad(x, 0, "import count differs from the pre-check");
            x->imp_of[x->gimp0 + g++] = i;
            break;
        case KILN__EXT_TABLE:
            if (t >= mi->ntables) return bad(x, 0, "import count differs from the pre-check");
            x->imp_of[x->timp0 + t++] = i;
            break;
        case KILN__EXT_MEMORY:
            x->mem_imp = i;
            break;
        default:
            break;
        }
    }
    if (g != mi->nglobal_imports) return bad(x, 0, "import count differs from the pre-check");
    return 0;
}

int kiln__xlate(const kiln__modinfo *mi, const kiln__xl_opts *o, char **out, size_t *out_len,
                char *why, size_t why_cap, kiln_wasm_error *err)
{
    X x0, *x = &x0;
    memset(x, 0, sizeof *x);
    x->mi = mi, x->o = o, x->err = err, x->why = why, x->why_cap = why_cap, x->func = -1;
    x->b = mi->stripped, x->pos = 8, x->end = mi->stripped_len;
    if (why_cap) why[0] = 0;
    for (uint32_t i = 0; i < mi->ntables; i++)
        if (mi->tables[i].min > mi->tables[i].max)
            bad(x, 0, "size minimum must not be greater than maximum");
    if (mi->stripped_len < 8) bad(x, 0, "module too short");
    if (!x->status) map_imports(x);
    if (!x->status) {
        x->dused = calloc((size_t)6 * MAX_STACK, 1);
        x->pe_off = malloc((MAX_STACK + 2) * sizeof *x->pe_off);
        x->pe_len = calloc(MAX_STACK + 2, sizeof *x->pe_len);
        x->pe_fl = calloc(MAX_STACK + 2, 1);
        if (x->pe_off)
            for (uint32_t d = 0; d < MAX_STACK + 2; d++)
                x->pe_off[d] = -1;
        if (!x->pe_off || !x->pe_len || !x->pe_fl) bad(x, 0, "out of memory");
        x->declared = calloc((size_t)mi->nfunc_imports + mi->nfuncs + 1, 1);
        if (!x->dused || !x->declared) bad(x, 0, "out of memory");
    }
    for (uint32_t e = 0; !x->status && e < mi->nexports; e++)
        if (mi->exports[e].kind == KILN__EXT_FUNC &&
            mi->exports[e].index < mi->nfunc_imports + mi->nfuncs)
            x->declared[mi->exports[e].index] = 1;
    /* sections */
    while (!x->status && x->pos < mi->stripped_len) {
        uint8_t id;
        uint32_t size;
        x->end = mi->stripped_len;
        if (r_u8(x, &id) || r_u32(x, &size)) break;
        if (size > mi->stripped_len - x->pos) {
            bad(x, x->pos, "section out of bounds");
            break;
        }
        size_t send = x->pos + size;
        x->end = send;
        if (id == 6)
            sec_global(x);
        else if (id == 9)
            sec_elem(x);
        else if (id == 11)
            sec_data(x);
        else if (id == 10)
            x->code_pos = x->pos, x->code_end = send;
        else if (id == 5)
            sec_memory(x);
        x->pos = send;
    }
    if (!x->status && x->nglobals + mi->nglobal_imports != mi->nglobals)
        bad(x, 0, "global count differs from the pre-check");
    if (!x->status) module_out(x);
    int st = x->status;
    if (st == 0) {
        *out = x->out.p, *out_len = x->out.len;
        x->out.p = NULL;
    }
    free(x->out.p), free(x->body.p), free(x->extra.p), free(x->multi.p);
    free(x->vs), free(x->fs), free(x->lt), free(x->dused), free(x->globals), free(x->datas);
    free(x->imp_of), free(x->declared), free(x->proto);
    free(x->pe_off), free(x->pe_len), free(x->pe_fl), free(x->pend.p), free(x->tmp.p),
        free(x->lay.p);
    for (uint32_t i = 0; i < x->nelems; i++)
        free(x->elems[i].items);
    free(x->elems);
    return st;
}
