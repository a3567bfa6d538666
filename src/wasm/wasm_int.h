/* Private interfaces of the wasm engine (src/wasm). Not for use outside src/wasm and
 * its tests. */
#ifndef KILN_WASM_INT_H
#define KILN_WASM_INT_H

#include "kiln_wasm.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

/* ---- error helper ---- */
void kiln__werr(kiln_wasm_error *err, int code, const char *section, int64_t func, int64_t off,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ---- pre-checks (wasm_check.c) ---- */
enum { KILN__EXT_FUNC = 0, KILN__EXT_TABLE = 1, KILN__EXT_MEMORY = 2, KILN__EXT_GLOBAL = 3 };

typedef struct {
    char *module, *field;
    uint8_t kind;
    uint32_t type_index; /* functions */
    int host_index;      /* index in the host table for functions, or -1 */
    uint8_t vtype, mut;  /* globals: value type; tables: element type */
    uint32_t min, max;   /* tables and memories */
} kiln__import;

typedef struct {
    uint8_t vtype, mut;
    uint32_t min, max;
} kiln__extern_type;

typedef struct {
    char *name;
    uint32_t name_len; /* names may contain NUL bytes */
    uint8_t kind;
    uint32_t index;
} kiln__export_info;

typedef struct {
    uint32_t max_nesting;    /* reject deeper control nesting */
    uint32_t max_functions;  /* defined functions */
    uint32_t max_locals;     /* per function, params included */
    uint32_t max_body_bytes; /* per function body */
    uint32_t max_globals, max_tables, max_data_segments, max_elem_segments, max_types;
    uint64_t max_data_bytes;      /* sum of data segment bytes */
    uint32_t max_pages;           /* memory initial pages must not exceed */
    bool allow_non_func_imports;  /* spec runner: spectest memory/table/global */
    bool allow_any_import_module; /* spec runner: imports resolved later by the runner */
} kiln__check_limits;

typedef struct {
    uint32_t ntypes;
    kiln_wasm_sig *types; /* results capped at KILN_WASM_MAX_RESULTS, params at MAX_PARAMS */
    uint32_t nimports;
    kiln__import *imports;
    uint32_t nfunc_imports;
    uint32_t nfuncs;      /* defined */
    uint32_t *func_types; /* type index of every function, imports first */
    uint32_t nexports;
    kiln__export_info *exports;
    bool has_memory, memory_imported;
    uint32_t mem_min, mem_max; /* pages; max UINT32_MAX if none */
    uint32_t ntables, nglobals, nglobal_imports;
    kiln__extern_type *tables, *globals; /* imports first; for linking checks */
    bool has_start;
    uint32_t start;
    bool mutates_tables; /* table.set/grow/fill/copy/init, elem.drop: reset by re-instantiation */
    char **func_names;   /* by function index, NULL if unnamed; from the name section */
    uint8_t *stripped;   /* the module without custom sections: what wasm2c sees */
    size_t stripped_len;
} kiln__modinfo;

void kiln__check_limits_default(kiln__check_limits *l);
/* Host table lookup used by the checker: returns the host index or -1, and sets
 * *sig_ok. Implemented in wasm_host.c. */
int kiln__host_lookup(const char *module, const char *field, const kiln_wasm_sig *sig,
                      bool *sig_ok);
/* Parses and checks; fills *mi (free with kiln__modinfo_dispose). */
int kiln__check(const uint8_t *b, size_t len, const kiln__check_limits *lim, kiln__modinfo *mi,
                kiln_wasm_error *err);
void kiln__modinfo_dispose(kiln__modinfo *mi);
bool kiln__name_ok(const char *s);
int kiln__sig_parse(const char *s, kiln_wasm_sig *sig);
void kiln__sig_format(const kiln_wasm_sig *sig, char *out, size_t cap);

/* ---- sha256.c ---- */
void kiln__sha256(const void *data, size_t len, uint8_t out[32]);
void kiln__sha256_hex(const void *data, size_t len, char out[65]);

#endif
