/* The ABI between Kiln's runtime and each compiled module. This file is compiled
 * into Kiln and also written next to the generated C of every module, so both
 * sides see the same definitions. Bump KILN__ABI_VERSION on any change: it is part
 * of the compiled-artifact cache key. Requires wasm-rt.h to be included first. */
#ifndef KILN_ABI_H
#define KILN_ABI_H

#include <stddef.h>
#include <stdint.h>

#define KILN__ABI_VERSION 6

/* Trap codes beyond wasm_rt_trap_t, produced by Kiln's patched macros. */
#define WASM_RT_TRAP_OOB_TABLE 100
#define WASM_RT_TRAP_UNINIT_ELEM 101
#define WASM_RT_TRAP_TYPE_MISMATCH 102
#define WASM_RT_TRAP_FUEL 103
#define WASM_RT_TRAP_DEADLINE 104
#define WASM_RT_TRAP_MEMORY_LIMIT 105
#define WASM_RT_TRAP_HOST 106

/* Lives immediately before the wasm2c instance struct; the instrumented code reaches
 * it at a fixed negative offset from its `instance` pointer. */
typedef struct kiln__tick {
    int64_t fuel;          /* ticks left in the current slice */
    uintptr_t stack_limit; /* lowest frame address allowed for guest code */
} kiln__tick;

#define KILN__TICK(inst) ((kiln__tick *)((char *)(inst) - sizeof(kiln__tick)))

/* Start of the context every import receives. wasm2c 1.0.32 passes host functions
 * either the context pointer (direct calls) or the address of the instance field
 * holding it (calls through a table), so the context starts with a pointer to
 * itself and thunks always dereference once. */
typedef struct kiln__ctx_head {
    void *self;
    int failed; /* set by kiln_wasm_ctx_fail(), tested after each host call */
} kiln__ctx_head;

typedef union {
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
    uint64_t bits;
} kiln__val;

typedef void (*kiln__tramp)(void *inst, const kiln__val *args, kiln__val *results);

/* Runtime services the module calls (all wasm_rt_* of wasm-rt.h route here). */
typedef struct kiln__rt_api {
    uint32_t abi_version;
    void (*trap)(int code) __attribute__((noreturn));
    uint32_t (*register_func_type)(uint32_t nparams, uint32_t nresults, const int *types);
    void (*allocate_memory)(wasm_rt_memory_t *m, uint32_t initial, uint32_t max);
    uint32_t (*grow_memory)(wasm_rt_memory_t *m, uint32_t delta);
    void (*free_memory)(wasm_rt_memory_t *m);
    void (*allocate_funcref_table)(wasm_rt_funcref_table_t *t, uint32_t n, uint32_t max);
    void (*free_funcref_table)(wasm_rt_funcref_table_t *t);
    uint32_t (*grow_funcref_table)(wasm_rt_funcref_table_t *t, uint32_t delta,
                                   wasm_rt_funcref_t init);
    void (*allocate_externref_table)(wasm_rt_externref_table_t *t, uint32_t n, uint32_t max);
    void (*free_externref_table)(wasm_rt_externref_table_t *t);
    uint32_t (*grow_externref_table)(wasm_rt_externref_table_t *t, uint32_t delta,
                                     wasm_rt_externref_t init);
    void (*fuel_slow)(void *instance);
    /* Imports without a typed host function: generic call through the runtime. */
    void (*generic_import)(void *env, uint32_t import_index, const kiln__val *args,
                           kiln__val *results);
    /* Non-function imports (memory, table, global): a pointer from the embedder. */
    void *(*import_ptr)(void *env, uint32_t import_index);
    /* Called by host-function thunks after the host function returned. */
    void (*host_check)(void *env);
} kiln__rt_api;

/* What a compiled module hands back from kiln__entry(). */
typedef struct kiln__module_desc {
    uint32_t abi_version;
    size_t instance_size;
    void (*instantiate)(void *inst, void *env);
    void (*free)(void *inst);
    wasm_rt_memory_t *(*memory)(void *inst); /* NULL if the module has no memory */
    uint32_t nexports;                       /* function exports, in export-section order */
    const kiln__tramp *tramps;               /* [nexports] */
    const uint32_t *export_index;            /* [nexports] index in the export section */
    /* Address of a memory/table/global export (by export-section index), or NULL. */
    void *(*export_ptr)(void *inst, uint32_t export_index);
    /* Offsets of the instance struct's non-bitfield members in declaration order: tier 1
     * replaces tier 0's code under live instances only if both lists (and instance_size)
     * are equal. */
    uint32_t nlayout;
    const uint32_t *layout;
} kiln__module_desc;

typedef const kiln__module_desc *(*kiln__entry_fn)(const kiln__rt_api *rt,
                                                   void (*const *hostfns)(void), uint32_t nimports);

#endif
