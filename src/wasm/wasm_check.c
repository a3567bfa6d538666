/* Kiln's own pre-checks of a WebAssembly binary, run before any external tool sees
 * it: structure, sizes, counts, nesting depth, features, imports against the host
 * table, names. It also emits the "stripped" module wasm2c translates: custom
 * sections dropped and every import/export renamed to a Kiln-made identifier, so no
 * user-controlled text ever reaches the generated C (wasm2c copies names into
 * comments unescaped). Full type checking is left to wasm2c's validator. */
#include "wasm_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *b;
    size_t pos, end;
    kiln_wasm_error *err;
    const char *section;
    int64_t func;
    bool failed;
} rd;

static int fail(rd *r, int64_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(rd *r, int64_t off, const char *fmt, ...)
{
    if (r->failed) return -1;
    r->failed = true;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kiln__werr(r->err, KILN_WASM_EREJECT, r->section, r->func, off, "%s", msg);
    return -1;
}

static int rd_u8(rd *r, uint8_t *v)
{
    *v = 0;
    if (r->pos >= r->end) return fail(r, (int64_t)r->pos, "unexpected end of section or function");
    *v = r->b[r->pos++];
    return 0;
}

/* Unsigned LEB128 of at most `bits` bits; rejects overlong/oversized encodings. */
static int rd_uleb(rd *r, unsigned bits, uint64_t *v)
{
    uint64_t result = 0;
    unsigned shift = 0;
    size_t start = r->pos;
    for (;;) {
        uint8_t byte;
        if (rd_u8(r, &byte)) return -1;
        if (shift + 7 >= bits && (byte & 0x7f) >> (bits - shift) != 0 && shift < bits)
            return fail(r, (int64_t)start, "integer too large");
        result |= (uint64_t)(byte & 0x7f) << shift;
        shift += 7;
        if (!(byte & 0x80)) break;
        if (shift >= bits) return fail(r, (int64_t)start, "integer representation too long");
    }
    *v = result;
    return 0;
}

static int rd_u32(rd *r, uint32_t *v)
{
    uint64_t x;
    if (rd_uleb(r, 32, &x)) return -1;
    *v = (uint32_t)x;
    return 0;
}

/* Signed LEB128 of `bits` bits (32, 33 or 64): checks length and the unused bits. */
static int rd_sleb(rd *r, unsigned bits, int64_t *v)
{
    uint64_t result = 0;
    unsigned shift = 0;
    size_t start = r->pos;
    uint8_t byte = 0;
    for (;;) {
        if (rd_u8(r, &byte)) return -1;
        if (shift < 64) result |= (uint64_t)(byte & 0x7f) << shift;
        shift += 7;
        if (!(byte & 0x80)) break;
        if (shift >= bits) return fail(r, (int64_t)start, "integer representation too long");
    }
    if (shift > bits) {
        /* The last byte carries bits beyond `bits`: they must all equal the sign bit. */
        unsigned used = bits - (shift - 7);
        int sign = (byte >> (used - 1)) & 1;
        uint8_t rest = (uint8_t)((byte & 0x7f) >> used);
        uint8_t want = sign ? (uint8_t)(0x7f >> used) : 0;
        if (rest != want) return fail(r, (int64_t)start, "integer too large");
    }
    if (shift < 64 && (byte & 0x40)) result |= ~(uint64_t)0 << shift;
    *v = (int64_t)result;
    return 0;
}

static int rd_skip(rd *r, uint64_t n)
{
    if (n > r->end - r->pos) return fail(r, (int64_t)r->pos, "length out of bounds");
    r->pos += (size_t)n;
    return 0;
}

static bool utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* Reads a name; *out is a NUL-terminated heap copy (names with NUL bytes are kept
 * but can never match an identifier). */
static int rd_name_len(rd *r, char **out, uint32_t *out_len);
static int rd_name(rd *r, char **out)
{
    uint32_t n;
    return rd_name_len(r, out, &n);
}

static int rd_name_len(rd *r, char **out, uint32_t *out_len)
{
    uint32_t n;
    size_t at = r->pos;
    if (rd_u32(r, &n)) return -1;
    if (n > r->end - r->pos) return fail(r, (int64_t)at, "length out of bounds");
    if (!utf8_ok(r->b + r->pos, n)) return fail(r, (int64_t)at, "malformed UTF-8 encoding");
    char *s = malloc((size_t)n + 1);
    if (!s) return fail(r, (int64_t)at, "out of memory");
    memcpy(s, r->b + r->pos, n);
    s[n] = 0;
    r->pos += n;
    *out = s;
    *out_len = n;
    return 0;
}

bool kiln__name_ok(const char *s)
{
    if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) return false;
    size_t n = 0;
    for (; *s; s++, n++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return n <= 128;
}

static const char *sec_name(int id)
{
    static const char *names[] = {"custom", "type",   "import",   "function", "table",
                                  "memory", "global", "export",   "start",    "element",
                                  "code",   "data",   "datacount"};
    return id >= 0 && id <= 12 ? names[id] : "unknown";
}

/* Value type byte -> internal code (0..3 numbers, 4 funcref, 5 externref), or -1. */
static int valtype(rd *r, uint8_t t)
{
    switch (t) {
    case 0x7f:
        return KILN_WASM_I32;
    case 0x7e:
        return KILN_WASM_I64;
    case 0x7d:
        return KILN_WASM_F32;
    case 0x7c:
        return KILN_WASM_F64;
    case 0x70:
        return 4;
    case 0x6f:
        return 5;
    case 0x7b:
        return fail(r, (int64_t)r->pos - 1, "SIMD (v128) is not supported"), -1;
    default:
        return fail(r, (int64_t)r->pos - 1, "malformed value type 0x%02x", t), -1;
    }
}

static int rd_limits(rd *r, bool memory, uint32_t *min, uint32_t *max)
{
    uint8_t flags;
    size_t at = r->pos;
    if (rd_u8(r, &flags)) return -1;
    if (flags == 2 || flags == 3)
        return fail(r, (int64_t)at, "shared memory (threads) is not supported");
    if (flags >= 4 && flags <= 7 && memory)
        return fail(r, (int64_t)at, "memory64 is not supported");
    if (flags > 1) return fail(r, (int64_t)at, "integer too large");
    if (rd_u32(r, min)) return -1;
    *max = UINT32_MAX;
    if (flags == 1 && rd_u32(r, max)) return -1;
    return 0;
}

static int ext_push(rd *r, kiln__extern_type **arr, uint32_t n, kiln__extern_type v)
{
    kiln__extern_type *p = realloc(*arr, ((size_t)n + 1) * sizeof *p);
    if (!p) return fail(r, -1, "out of memory");
    p[n] = v;
    *arr = p;
    return 0;
}

typedef struct {
    const kiln__check_limits *lim;
    kiln__modinfo *mi;
    uint32_t ndata_count; /* from the datacount section */
    bool has_datacount;
} ctx;

/* Decodes instructions until the `end` that closes depth 0. const_expr restricts to
 * constant instructions (the validator checks their types). */
static int rd_expr(rd *r, ctx *c, bool const_expr)
{
    uint32_t depth = 1, maxd = c->lim->max_nesting;
    for (;;) {
        size_t at = r->pos;
        uint8_t op;
        uint32_t u, u2;
        int64_t s;
        uint64_t x;
        if (rd_u8(r, &op)) return -1;
        if (const_expr && !(op == 0x0b || op == 0x41 || op == 0x42 || op == 0x43 || op == 0x44 ||
                            op == 0x23 || op == 0xd0 || op == 0xd2))
            return fail(r, (int64_t)at, "constant expression required (opcode 0x%02x)", op);
        switch (op) {
        case 0x00:
        case 0x01:
        case 0x05:
        case 0x0f:
        case 0x1a:
        case 0x1b:
        case 0xd1:
            break;
        case 0x02:
        case 0x03:
        case 0x04: {
            if (++depth > maxd) return fail(r, (int64_t)at, "control nesting deeper than %u", maxd);
            uint8_t bt;
            if (r->pos >= r->end) return fail(r, (int64_t)r->pos, "unexpected end");
            bt = r->b[r->pos];
            if (bt == 0x40) {
                r->pos++;
            } else if (bt == 0x7f || bt == 0x7e || bt == 0x7d || bt == 0x7c || bt == 0x70 ||
                       bt == 0x6f || bt == 0x7b) {
                r->pos++;
                if (valtype(r, bt) < 0) return -1;
            } else {
                if (rd_sleb(r, 33, &s)) return -1;
                if (s < 0 || (uint64_t)s >= c->mi->ntypes)
                    return fail(r, (int64_t)at, "unknown block type %lld", (long long)s);
            }
            break;
        }
        case 0x0b:
            if (--depth == 0) return 0;
            break;
        case 0x0c:
        case 0x0d:
        case 0x10:
        case 0x20:
        case 0x21:
        case 0x22:
        case 0x23:
        case 0x24:
        case 0x25:
        case 0xd2:
            if (rd_u32(r, &u)) return -1;
            break;
        case 0x26:
            c->mi->mutates_tables = true;
            if (rd_u32(r, &u)) return -1;
            break;
        case 0x0e:
            if (rd_u32(r, &u)) return -1;
            if (u > r->end - r->pos) return fail(r, (int64_t)at, "br_table length out of bounds");
            for (uint32_t i = 0; i <= u; i++)
                if (rd_u32(r, &u2)) return -1;
            break;
        case 0x11:
            if (rd_u32(r, &u) || rd_u32(r, &u2)) return -1;
            break;
        case 0x12:
        case 0x13:
            return fail(r, (int64_t)at, "tail calls are not supported");
        case 0x06:
        case 0x07:
        case 0x08:
        case 0x09:
        case 0x18:
        case 0x19:
            return fail(r, (int64_t)at, "exception handling is not supported");
        case 0x1c:
            if (rd_u32(r, &u)) return -1;
            if (u != 1) return fail(r, (int64_t)at, "invalid result arity for select");
            for (uint32_t i = 0; i < u; i++) {
                uint8_t t;
                if (rd_u8(r, &t) || valtype(r, t) < 0) return -1;
            }
            break;
        case 0x3f:
        case 0x40: {
            uint8_t z;
            if (rd_u8(r, &z)) return -1;
            if (z != 0) return fail(r, (int64_t)at, "zero byte expected");
            break;
        }
        case 0x41:
            if (rd_sleb(r, 32, &s)) return -1;
            break;
        case 0x42:
            if (rd_sleb(r, 64, &s)) return -1;
            break;
        case 0x43:
            if (rd_skip(r, 4)) return -1;
            break;
        case 0x44:
            if (rd_skip(r, 8)) return -1;
            break;
        case 0xd0: {
            uint8_t t;
            if (rd_u8(r, &t)) return -1;
            if (t != 0x70 && t != 0x6f) return fail(r, (int64_t)at, "malformed reference type");
            break;
        }
        case 0xfc:
            if (rd_u32(r, &u)) return -1;
            switch (u) {
            case 0:
            case 1:
            case 2:
            case 3:
            case 4:
            case 5:
            case 6:
            case 7:
                break;
            case 8: {
                uint8_t z;
                if (rd_u32(r, &u2) || rd_u8(r, &z)) return -1;
                if (z) return fail(r, (int64_t)at, "zero byte expected");
                if (!c->has_datacount) return fail(r, (int64_t)at, "data count section required");
                break;
            }
            case 9:
                if (rd_u32(r, &u2)) return -1;
                if (!c->has_datacount) return fail(r, (int64_t)at, "data count section required");
                break;
            case 10:
            case 11: {
                uint8_t z, z2 = 0;
                if (rd_u8(r, &z) || (u == 10 && rd_u8(r, &z2))) return -1;
                if (z || z2) return fail(r, (int64_t)at, "zero byte expected");
                break;
            }
            case 12:
            case 14:
                c->mi->mutates_tables = true;
                if (rd_u32(r, &u2) || rd_u32(r, &u2)) return -1;
                break;
            case 13:
            case 15:
            case 17:
                c->mi->mutates_tables = true;
                if (rd_u32(r, &u2)) return -1;
                break;
            case 16:
                if (rd_u32(r, &u2)) return -1;
                break;
            default:
                return fail(r, (int64_t)at, "unsupported 0xfc opcode %u", u);
            }
            break;
        case 0xfd:
            return fail(r, (int64_t)at, "SIMD instructions are not supported");
        case 0xfe:
            return fail(r, (int64_t)at, "threads/atomics are not supported");
        default:
            if (op >= 0x28 && op <= 0x3e) {
                if (rd_u32(r, &u)) return -1;
                if (u >= 64) return fail(r, (int64_t)at, "multi-memory is not supported");
                if (rd_uleb(r, 32, &x)) return -1;
                break;
            }
            if (op >= 0x45 && op <= 0xc4) break;
            return fail(r, (int64_t)at, "illegal opcode 0x%02x", op);
        }
    }
}

static int sec_type(rd *r, ctx *c)
{
    kiln__modinfo *mi = c->mi;
    uint32_t n;
    if (rd_u32(r, &n)) return -1;
    if (n > c->lim->max_types)
        return fail(r, (int64_t)r->pos, "too many types (%u > %u)", n, c->lim->max_types);
    mi->types = calloc(n ? n : 1, sizeof *mi->types);
    if (!mi->types) return fail(r, -1, "out of memory");
    mi->ntypes = n;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t form;
        size_t at = r->pos;
        if (rd_u8(r, &form)) return -1;
        if (form != 0x60)
            return fail(r, (int64_t)at, "malformed function type 0x%02x (type %u)", form, i);
        for (int part = 0; part < 2; part++) {
            uint32_t k;
            at = r->pos;
            if (rd_u32(r, &k)) return -1;
            uint32_t cap = part ? KILN_WASM_MAX_RESULTS : KILN_WASM_MAX_PARAMS;
            if (k > cap)
                return fail(r, (int64_t)at, "type %u: more than %u %s", i, cap,
                            part ? "results" : "params");
            for (uint32_t j = 0; j < k; j++) {
                uint8_t t;
                int vt;
                if (rd_u8(r, &t) || (vt = valtype(r, t)) < 0) return -1;
                (part ? mi->types[i].results : mi->types[i].params)[j] = (uint8_t)vt;
            }
            if (part)
                mi->types[i].nresults = (uint8_t)k;
            else
                mi->types[i].nparams = (uint8_t)k;
        }
    }
    return 0;
}

static int func_types_grow(rd *r, kiln__modinfo *mi, uint32_t total)
{
    uint32_t *p = realloc(mi->func_types, (size_t)(total ? total : 1) * sizeof *p);
    if (!p) return fail(r, -1, "out of memory");
    mi->func_types = p;
    return 0;
}

static int sec_import(rd *r, ctx *c)
{
    kiln__modinfo *mi = c->mi;
    uint32_t n;
    if (rd_u32(r, &n)) return -1;
    if (n > 10000) return fail(r, (int64_t)r->pos, "too many imports (%u)", n);
    mi->imports = calloc(n ? n : 1, sizeof *mi->imports);
    if (!mi->imports || func_types_grow(r, mi, n)) return fail(r, -1, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        kiln__import *im = &mi->imports[i];
        size_t at = r->pos;
        im->host_index = -1;
        mi->nimports = i + 1; /* before the names: a failed second read must not leak the first */
        if (rd_name(r, &im->module) || rd_name(r, &im->field)) return -1;
        if (!c->lim->allow_any_import_module &&
            (!kiln__name_ok(im->module) || !kiln__name_ok(im->field)))
            return fail(r, (int64_t)at,
                        "import %u: name is not an identifier [A-Za-z_][A-Za-z0-9_]*", i);
        if (rd_u8(r, &im->kind)) return -1;
        uint32_t mn, mx;
        switch (im->kind) {
        case KILN__EXT_FUNC:
            if (rd_u32(r, &im->type_index)) return -1;
            if (im->type_index >= mi->ntypes)
                return fail(r, (int64_t)at, "import %u: unknown type %u", i, im->type_index);
            mi->func_types[mi->nfunc_imports++] = im->type_index;
            break;
        case KILN__EXT_TABLE: {
            uint8_t t;
            int vt;
            if (rd_u8(r, &t) || (vt = valtype(r, t)) < 0 || rd_limits(r, false, &mn, &mx))
                return -1;
            im->vtype = (uint8_t)vt, im->min = mn, im->max = mx;
            if (ext_push(r, &mi->tables, mi->ntables, (kiln__extern_type){(uint8_t)vt, 0, mn, mx}))
                return -1;
            mi->ntables++;
            break;
        }
        case KILN__EXT_MEMORY:
            if (rd_limits(r, true, &mn, &mx)) return -1;
            if (mi->has_memory) return fail(r, (int64_t)at, "multiple memories");
            mi->has_memory = mi->memory_imported = true;
            mi->mem_min = mn, mi->mem_max = mx;
            im->min = mn, im->max = mx;
            break;
        case KILN__EXT_GLOBAL: {
            uint8_t t, mut;
            int vt;
            if (rd_u8(r, &t) || (vt = valtype(r, t)) < 0 || rd_u8(r, &mut)) return -1;
            if (mut > 1) return fail(r, (int64_t)at, "malformed mutability");
            im->vtype = (uint8_t)vt, im->mut = mut;
            if (ext_push(r, &mi->globals, mi->nglobals,
                         (kiln__extern_type){(uint8_t)vt, mut, 0, 0}))
                return -1;
            mi->nglobals++, mi->nglobal_imports++;
            break;
        }
        case 4:
            return fail(r, (int64_t)at, "import %u: tags (exceptions) are not supported", i);
        default:
            return fail(r, (int64_t)at, "import %u: malformed import kind %u", i, im->kind);
        }
        if (im->kind != KILN__EXT_FUNC && !c->lim->allow_non_func_imports)
            return fail(r, (int64_t)at,
                        "import %u (%s.%s): only function imports are provided by Kiln", i,
                        im->module, im->field);
        if (im->kind == KILN__EXT_FUNC && !c->lim->allow_any_import_module) {
            bool sig_ok = false;
            im->host_index =
                kiln__host_lookup(im->module, im->field, &mi->types[im->type_index], &sig_ok);
            if (im->host_index < 0)
                return fail(r, (int64_t)at, "import %u: %s.%s is not provided by Kiln", i,
                            im->module, im->field);
            if (!sig_ok) {
                char got[80];
                kiln__sig_format(&mi->types[im->type_index], got, sizeof got);
                return fail(r, (int64_t)at, "import %u: %s.%s has the wrong signature %s", i,
                            im->module, im->field, got);
            }
        }
    }
    return 0;
}

static int sec_function(rd *r, ctx *c)
{
    kiln__modinfo *mi = c->mi;
    uint32_t n;
    if (rd_u32(r, &n)) return -1;
    if (n > c->lim->max_functions)
        return fail(r, (int64_t)r->pos, "too many functions (%u > %u)", n, c->lim->max_functions);
    if (func_types_grow(r, mi, mi->nfunc_imports + n)) return -1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t t;
        if (rd_u32(r, &t)) return -1;
        if (t >= mi->ntypes)
            return fail(r, (int64_t)r->pos, "function %u: unknown type %u", mi->nfunc_imports + i,
                        t);
        mi->func_types[mi->nfunc_imports + i] = t;
    }
    mi->nfuncs = n;
    return 0;
}

static int sec_table(rd *r, ctx *c)
{
    uint32_t n, mn, mx;
    if (rd_u32(r, &n)) return -1;
    if (n > c->lim->max_tables) return fail(r, (int64_t)r->pos, "too many tables (%u)", n);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t t;
        int vt;
        if (rd_u8(r, &t) || (vt = valtype(r, t)) < 0 || rd_limits(r, false, &mn, &mx)) return -1;
        if (t != 0x70 && t != 0x6f)
            return fail(r, (int64_t)r->pos, "table %u: malformed reference type", i);
        if (ext_push(r, &c->mi->tables, c->mi->ntables,
                     (kiln__extern_type){(uint8_t)vt, 0, mn, mx}))
            return -1;
        c->mi->ntables++;
    }
    return 0;
}

static int sec_memory(rd *r, ctx *c)
{
    uint32_t n, mn, mx;
    if (rd_u32(r, &n)) return -1;
    if (n + (c->mi->has_memory ? 1u : 0u) > 1)
        return fail(r, (int64_t)r->pos, "multiple memories are not supported");
    if (n) {
        size_t at = r->pos;
        if (rd_limits(r, true, &mn, &mx)) return -1;
        if (mn > c->lim->max_pages)
            return fail(r, (int64_t)at, "memory: %u initial pages exceed the limit of %u", mn,
                        c->lim->max_pages);
        c->mi->has_memory = true;
        c->mi->mem_min = mn, c->mi->mem_max = mx;
    }
    return 0;
}

static int sec_global(rd *r, ctx *c)
{
    uint32_t n;
    if (rd_u32(r, &n)) return -1;
    if (n > c->lim->max_globals) return fail(r, (int64_t)r->pos, "too many globals (%u)", n);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t t, mut;
        int vt;
        if (rd_u8(r, &t) || (vt = valtype(r, t)) < 0 || rd_u8(r, &mut)) return -1;
        if (mut > 1) return fail(r, (int64_t)r->pos - 1, "global %u: malformed mutability", i);
        if (rd_expr(r, c, true)) return -1;
        if (ext_push(r, &c->mi->globals, c->mi->nglobals,
                     (kiln__extern_type){(uint8_t)vt, mut, 0, 0}))
            return -1;
        c->mi->nglobals++;
    }
    return 0;
}

static int sec_export(rd *r, ctx *c)
{
    kiln__modinfo *mi = c->mi;
    uint32_t n;
    if (rd_u32(r, &n)) return -1;
    if (n > 10000) return fail(r, (int64_t)r->pos, "too many exports (%u)", n);
    mi->exports = calloc(n ? n : 1, sizeof *mi->exports);
    if (!mi->exports) return fail(r, -1, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        kiln__export_info *ex = &mi->exports[i];
        size_t at = r->pos;
        if (rd_name_len(r, &ex->name, &ex->name_len)) return -1;
        mi->nexports = i + 1;
        if (!c->lim->allow_any_import_module && !kiln__name_ok(ex->name))
            return fail(r, (int64_t)at,
                        "export %u: name is not an identifier [A-Za-z_][A-Za-z0-9_]*", i);
        for (uint32_t j = 0; j < i; j++)
            if (mi->exports[j].name_len == ex->name_len &&
                memcmp(mi->exports[j].name, ex->name, ex->name_len) == 0)
                return fail(r, (int64_t)at, "duplicate export name \"%s\"", ex->name);
        if (rd_u8(r, &ex->kind) || rd_u32(r, &ex->index)) return -1;
        if (ex->kind > 3) return fail(r, (int64_t)at, "export %u: malformed export kind", i);
        if (ex->kind == KILN__EXT_FUNC && ex->index >= mi->nfunc_imports + mi->nfuncs)
            return fail(r, (int64_t)at, "export %u: unknown function %u", i, ex->index);
    }
    return 0;
}

static int sec_elem(rd *r, ctx *c)
{
    uint32_t n;
    if (rd_u32(r, &n)) return -1;
    if (n > c->lim->max_elem_segments)
        return fail(r, (int64_t)r->pos, "too many element segments (%u)", n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t flags, k, u;
        size_t at = r->pos;
        if (rd_u32(r, &flags)) return -1;
        if (flags > 7)
            return fail(r, (int64_t)at, "element %u: malformed segment flags %u", i, flags);
        if (flags == 2 || flags == 6)
            if (rd_u32(r, &u)) return -1;
        if (!(flags & 1) && rd_expr(r, c, true)) return -1;
        if (flags & 3) { /* elemkind or reftype */
            uint8_t t;
            if (rd_u8(r, &t)) return -1;
            if (flags & 4 ? (t != 0x70 && t != 0x6f) : t != 0x00)
                return fail(r, (int64_t)r->pos - 1, "element %u: malformed element kind", i);
        }
        if (rd_u32(r, &k)) return -1;
        if (k > r->end - r->pos) return fail(r, (int64_t)at, "element %u: length out of bounds", i);
        for (uint32_t j = 0; j < k; j++) {
            if (flags & 4) {
                if (rd_expr(r, c, true)) return -1;
            } else if (rd_u32(r, &u)) {
                return -1;
            }
        }
    }
    return 0;
}

static int sec_code(rd *r, ctx *c)
{
    kiln__modinfo *mi = c->mi;
    uint32_t n;
    if (rd_u32(r, &n)) return -1;
    if (n != mi->nfuncs)
        return fail(r, (int64_t)r->pos, "function and code section have inconsistent lengths");
    for (uint32_t i = 0; i < n; i++) {
        uint32_t size;
        size_t at = r->pos;
        r->func = mi->nfunc_imports + i;
        if (rd_u32(r, &size)) return -1;
        if (size > c->lim->max_body_bytes)
            return fail(r, (int64_t)at, "function body of %u bytes exceeds %u", size,
                        c->lim->max_body_bytes);
        if (size > r->end - r->pos)
            return fail(r, (int64_t)at, "function body length out of bounds");
        size_t body_end = r->pos + size, saved_end = r->end;
        r->end = body_end;
        uint32_t ngroups;
        uint64_t nlocals = mi->types[mi->func_types[r->func]].nparams;
        if (rd_u32(r, &ngroups)) return -1;
        for (uint32_t g = 0; g < ngroups; g++) {
            uint32_t cnt;
            uint8_t t;
            if (rd_u32(r, &cnt)) return -1;
            nlocals += cnt;
            if (nlocals > c->lim->max_locals)
                return fail(r, (int64_t)at, "too many locals (more than %u)", c->lim->max_locals);
            if (rd_u8(r, &t) || valtype(r, t) < 0) return -1;
        }
        if (rd_expr(r, c, false)) return -1;
        if (r->pos != body_end)
            return fail(r, (int64_t)r->pos,
                        "section size mismatch: function body has trailing bytes");
        r->end = saved_end;
    }
    r->func = -1;
    return 0;
}

static int sec_data(rd *r, ctx *c)
{
    uint32_t n;
    uint64_t total = 0;
    if (rd_u32(r, &n)) return -1;
    if (n > c->lim->max_data_segments)
        return fail(r, (int64_t)r->pos, "too many data segments (%u)", n);
    if (c->has_datacount && n != c->ndata_count)
        return fail(r, (int64_t)r->pos, "data count and data section have inconsistent lengths");
    for (uint32_t i = 0; i < n; i++) {
        uint32_t flags, u, len;
        size_t at = r->pos;
        if (rd_u32(r, &flags)) return -1;
        if (flags > 2) return fail(r, (int64_t)at, "data %u: malformed segment flags", i);
        if (flags == 2 && rd_u32(r, &u)) return -1;
        if (flags != 1 && rd_expr(r, c, true)) return -1;
        if (rd_u32(r, &len) || rd_skip(r, len)) return -1;
        total += len;
        if (total > c->lim->max_data_bytes)
            return fail(r, (int64_t)at, "data segments exceed %llu bytes",
                        (unsigned long long)c->lim->max_data_bytes);
    }
    return 0;
}

/* Function names from the "name" custom section; malformed content is ignored. */
static void sec_names(const uint8_t *b, size_t pos, size_t end, kiln__modinfo *mi)
{
    kiln_wasm_error scratch;
    rd r = {.b = b, .pos = pos, .end = end, .err = &scratch, .section = "name", .func = -1};
    uint32_t total = mi->nfunc_imports + mi->nfuncs;
    if (!total) return;
    while (r.pos < end) {
        uint8_t id;
        uint32_t size;
        if (rd_u8(&r, &id) || rd_u32(&r, &size) || size > end - r.pos) return;
        size_t sub_end = r.pos + size;
        if (id != 1) {
            r.pos = sub_end;
            continue;
        }
        uint32_t n;
        if (rd_u32(&r, &n)) return;
        if (!mi->func_names && !(mi->func_names = calloc(total, sizeof(char *)))) return;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t idx;
            char *name;
            if (rd_u32(&r, &idx) || rd_name(&r, &name)) return;
            /* Only for messages: keep it short and printable. */
            if (strlen(name) > 64) name[64] = 0;
            for (char *p = name; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) *p = '?';
            if (idx < total && !mi->func_names[idx])
                mi->func_names[idx] = name;
            else
                free(name);
        }
        return;
    }
}

/* ---- re-encoding of the stripped module ---- */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf;

static int buf_put(buf *o, const void *d, size_t n)
{
    if (o->len + n > o->cap) {
        size_t nc = (o->cap ? o->cap * 2 : 1024);
        while (nc < o->len + n)
            nc *= 2;
        uint8_t *np = realloc(o->p, nc);
        if (!np) return -1;
        o->p = np, o->cap = nc;
    }
    memcpy(o->p + o->len, d, n);
    o->len += n;
    return 0;
}

static int buf_leb(buf *o, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = v & 0x7f;
        v >>= 7;
        if (v) t[n] |= 0x80;
        n++;
    } while (v);
    return buf_put(o, t, n);
}

static int buf_name(buf *o, const char *s)
{
    size_t n = strlen(s);
    return buf_leb(o, n) || buf_put(o, s, n);
}

static int buf_section(buf *o, uint8_t id, const buf *content)
{
    return buf_put(o, &id, 1) || buf_leb(o, content->len) || buf_put(o, content->p, content->len);
}

/* Import section with every import renamed to env.k<i>; the rest copied verbatim. */
static int emit_imports(buf *o, const uint8_t *b, size_t pos, size_t end, const kiln__modinfo *mi)
{
    kiln_wasm_error scratch;
    rd r = {.b = b, .pos = pos, .end = end, .err = &scratch, .section = "import", .func = -1};
    buf s = {0};
    uint32_t n;
    char name[24];
    int rc = -1;
    if (rd_u32(&r, &n) || buf_leb(&s, n)) goto fail;
    for (uint32_t i = 0; i < n; i++) {
        char *m, *f;
        if (rd_name(&r, &m)) goto fail;
        if (rd_name(&r, &f)) {
            free(m);
            goto fail;
        }
        free(m), free(f);
        snprintf(name, sizeof name, "k%u", i);
        size_t desc = r.pos;
        /* The descriptor's extent: kind byte + what the checker already validated. */
        uint8_t kind = b[r.pos++];
        uint32_t u, mn, mx;
        uint8_t t;
        if (kind == 0) {
            if (rd_u32(&r, &u)) goto fail;
        } else if (kind == 1) {
            if (rd_u8(&r, &t) || rd_limits(&r, false, &mn, &mx)) goto fail;
        } else if (kind == 2) {
            if (rd_limits(&r, true, &mn, &mx)) goto fail;
        } else if (rd_skip(&r, 2)) {
            goto fail;
        }
        if (buf_name(&s, "env") || buf_name(&s, name) || buf_put(&s, b + desc, r.pos - desc))
            goto fail;
    }
    (void)mi;
    rc = buf_section(o, 2, &s);
fail:
    free(s.p);
    return rc;
}

static int emit_exports(buf *o, const kiln__modinfo *mi)
{
    buf s = {0};
    char name[24];
    int rc = -1;
    if (buf_leb(&s, mi->nexports)) goto fail;
    for (uint32_t i = 0; i < mi->nexports; i++) {
        snprintf(name, sizeof name, "e%u", i);
        if (buf_name(&s, name) || buf_put(&s, &mi->exports[i].kind, 1) ||
            buf_leb(&s, mi->exports[i].index))
            goto fail;
    }
    rc = buf_section(o, 7, &s);
fail:
    free(s.p);
    return rc;
}

static int order_of(int id)
{
    static const int ord[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};
    return id >= 0 && id <= 12 ? ord[id] : -1;
}

void kiln__check_limits_default(kiln__check_limits *l)
{
    l->max_nesting = 1000;
    l->max_functions = 100000;
    l->max_locals = 10000;
    l->max_body_bytes = 2u << 20;
    l->max_globals = 10000;
    l->max_tables = 100;
    l->max_data_segments = 100000;
    l->max_elem_segments = 100000;
    l->max_types = 100000;
    l->max_data_bytes = 8u << 20;
    l->max_pages = 256;
    l->allow_non_func_imports = false;
    l->allow_any_import_module = false;
}

int kiln__check(const uint8_t *b, size_t len, const kiln__check_limits *lim, kiln__modinfo *mi,
                kiln_wasm_error *err)
{
    static const uint8_t magic[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    memset(mi, 0, sizeof *mi);
    rd r = {.b = b, .pos = 0, .end = len, .err = err, .section = "header", .func = -1};
    ctx c = {.lim = lim, .mi = mi};
    buf out = {0};
    int last = 0;
    if (len < 4 || memcmp(b, magic, 4) != 0) {
        fail(&r, 0, "magic header not detected");
        goto fail;
    }
    if (len < 8 || memcmp(b + 4, magic + 4, 4) != 0) {
        fail(&r, 4, "unknown binary version");
        goto fail;
    }
    r.pos = 8;
    if (buf_put(&out, magic, 8)) goto oom;
    while (r.pos < len) {
        size_t at = r.pos;
        uint8_t id;
        uint32_t size;
        r.section = "header";
        r.end = len;
        if (rd_u8(&r, &id) || rd_u32(&r, &size)) goto fail;
        r.section = sec_name(id);
        if (id > 12) {
            fail(&r, (int64_t)at,
                 id == 13 ? "tag section (exceptions) is not supported" : "malformed section id %u",
                 id);
            goto fail;
        }
        if (size > len - r.pos) {
            fail(&r, (int64_t)at, "section size out of bounds (%u bytes)", size);
            goto fail;
        }
        size_t start = r.pos, end = r.pos + size;
        r.end = end;
        if (id != 0) {
            if (order_of(id) <= last) {
                fail(&r, (int64_t)at, "section out of order or duplicated");
                goto fail;
            }
            last = order_of(id);
        }
        int rc = 0;
        switch (id) {
        case 0: {
            char *name = NULL;
            if (rd_name(&r, &name)) goto fail;
            if (strcmp(name, "name") == 0) sec_names(b, r.pos, end, mi);
            free(name);
            r.pos = end;
            break;
        }
        case 1:
            rc = sec_type(&r, &c);
            break;
        case 2:
            rc = sec_import(&r, &c);
            break;
        case 3:
            rc = sec_function(&r, &c);
            break;
        case 4:
            rc = sec_table(&r, &c);
            break;
        case 5:
            rc = sec_memory(&r, &c);
            break;
        case 6:
            rc = sec_global(&r, &c);
            break;
        case 7:
            rc = sec_export(&r, &c);
            break;
        case 8:
            rc = rd_u32(&r, &mi->start);
            mi->has_start = true;
            break;
        case 9:
            rc = sec_elem(&r, &c);
            break;
        case 10:
            rc = sec_code(&r, &c);
            break;
        case 11:
            rc = sec_data(&r, &c);
            break;
        case 12:
            rc = rd_u32(&r, &c.ndata_count);
            c.has_datacount = true;
            break;
        }
        if (rc) goto fail;
        if (r.pos != end) {
            fail(&r, (int64_t)r.pos, "section size mismatch");
            goto fail;
        }
        if (id == 2)
            rc = emit_imports(&out, b, start, end, mi);
        else if (id == 7)
            rc = emit_exports(&out, mi);
        else if (id != 0)
            rc = buf_put(&out, b + at, end - at);
        if (rc) goto oom;
    }
    r.section = "code";
    if (mi->nfuncs && last < order_of(10)) {
        fail(&r, (int64_t)len, "function and code section have inconsistent lengths");
        goto fail;
    }
    if (c.has_datacount && c.ndata_count && last < order_of(11)) {
        r.section = "data";
        fail(&r, (int64_t)len, "data count and data section have inconsistent lengths");
        goto fail;
    }
    mi->stripped = out.p;
    mi->stripped_len = out.len;
    return 0;
oom:
    fail(&r, -1, "out of memory");
fail:
    free(out.p);
    kiln__modinfo_dispose(mi);
    if (err) err->code = KILN_WASM_EREJECT;
    return KILN_WASM_EREJECT;
}

void kiln__modinfo_dispose(kiln__modinfo *mi)
{
    for (uint32_t i = 0; i < mi->nimports; i++)
        free(mi->imports[i].module), free(mi->imports[i].field);
    for (uint32_t i = 0; i < mi->nexports; i++)
        free(mi->exports[i].name);
    if (mi->func_names)
        for (uint32_t i = 0; i < mi->nfunc_imports + mi->nfuncs; i++)
            free(mi->func_names[i]);
    free(mi->func_names);
    free(mi->imports);
    free(mi->exports);
    free(mi->types);
    free(mi->func_types);
    free(mi->tables);
    free(mi->globals);
    free(mi->stripped);
    memset(mi, 0, sizeof *mi);
}
