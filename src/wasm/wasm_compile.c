/* From checked module to loadable code: wasm2c and the C compilers run in child
 * processes (rlimits, wall-clock timeout, private temp dir); the generated C is
 * instrumented (fuel and stack checks, precise trap kinds) and completed with the
 * glue that binds it to Kiln's runtime (kiln_abi.h). */
#include "wasm_rt_int.h"
#include "wasm_cgen.h"
#include "wasm_xlate.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* kiln_abi.h's text, embedded at build time (see CMakeLists.txt). */
extern const char kiln__abi_text[];
__asm__(".section .rodata\n.global kiln__abi_text\n.type kiln__abi_text, @object\nkiln__abi_text:\n"
        ".incbin \"" KILN_ABI_PATH "\"\n.byte 0\n.previous\n");

/* ---- files ---- */
static int write_file(const char *path, const void *d, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    const char *p = d;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        p += w, n -= (size_t)w;
    }
    return close(fd);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rbe");
    char *p = NULL;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) goto fail;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) goto fail;
    p = malloc((size_t)n + 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) goto fail;
    p[n] = 0;
    *len = (size_t)n;
    fclose(f);
    return p;
fail:
    free(p);
    fclose(f);
    return NULL;
}

void kiln__rmtree(const char *dir)
{
    if (getenv("KILN_WASM_KEEP")) /* debugging: keep generated C and artifacts */
        return;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- child processes ---- */
static const char *find_exe(const char *name, char *buf, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(buf, cap, "%.*s/%s", (int)n, path, name);
        if (access(buf, X_OK) == 0) return buf;
        path += n + (colon ? 1 : 0);
    }
    return NULL;
}

typedef struct {
    rlim_t cpu_s, as_bytes, fsize_bytes;
    int timeout_ms;
} limits_t;

/* Runs argv in dir; stderr goes to dir/stderr.txt. Returns 0 on exit status 0,
 * else -1 with a reason in why. The child gets its own process group so a
 * timeout kills the compiler's own children too. */
static int run_child(char *const argv[], const char *dir, const limits_t *lim, char *why,
                     size_t cap)
{
    char exe[1024], errpath[4096];
    if (!find_exe(argv[0], exe, sizeof exe)) {
        snprintf(why, cap, "%s not found in PATH", argv[0]);
        return -1;
    }
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", dir);
    extern char **environ;
    /* vfork: the child borrows the server's address space until exec instead of copying its
     * page tables (a fork of a server holding gigabytes costs milliseconds). The child only
     * makes system calls and never returns. */
    pid_t pid = vfork();
    if (pid < 0) {
        snprintf(why, cap, "vfork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        kiln__child_limits(lim->cpu_s, lim->as_bytes, lim->fsize_bytes);
        if (chdir(dir) != 0) _exit(126);
        int in = open("/dev/null", O_RDONLY),
            err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || err < 0) _exit(126);
        dup2(in, 0), dup2(err, 1), dup2(err, 2);
        if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
            for (int fd = 3; fd < 1024; fd++)
                close(fd);
        execve(exe, argv, environ);
        _exit(127);
    }
    setpgid(pid, pid);
    int status = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    /* A pidfd wakes us the moment the child exits (no polling latency on the tier-0
     * path); without it (old kernels) fall back to short sleeps. */
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    for (long spin = 0;; spin++) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) {
            if (pfd >= 0) close(pfd);
            snprintf(why, cap, "waitpid: %s", strerror(errno));
            return -1;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (ms > lim->timeout_ms) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            if (pfd >= 0) close(pfd);
            snprintf(why, cap, "%s timed out after %d ms", argv[0], lim->timeout_ms);
            return -1;
        }
        if (pfd >= 0) {
            struct pollfd pf = {.fd = pfd, .events = POLLIN};
            int left = lim->timeout_ms - (int)ms;
            poll(&pf, 1, left > 0 ? left : 1);
        } else {
            struct timespec ts = {0, spin < 200 ? 100000 : 2000000};
            nanosleep(&ts, NULL);
        }
    }
    if (pfd >= 0) close(pfd);
    if (WIFSIGNALED(status)) {
        snprintf(why, cap, "%s killed by signal %d%s", argv[0], WTERMSIG(status),
                 WTERMSIG(status) == SIGXCPU ? " (CPU limit)" : "");
        return -1;
    }
    if (WEXITSTATUS(status) != 0) {
        size_t n = 0;
        char *msg = read_file(errpath, &n);
        /* First line of the tool's complaint is enough for the user. */
        if (msg) {
            char *nl = strchr(msg, '\n');
            if (nl) *nl = 0;
        }
        snprintf(why, cap, "%s failed (exit %d): %.180s", argv[0], WEXITSTATUS(status),
                 msg ? msg : "");
        free(msg);
        return -1;
    }
    return 0;
}

/* ---- glue generation ---- */
static char mletter(int t)
{
    return "ijfdre"[t % 6];
}

static void ret_type(sb *s, const kiln_wasm_sig *sig)
{
    if (sig->nresults == 0) {
        sb_str(s, "void");
    } else if (sig->nresults == 1) {
        sb_str(s, cgen_ctype(sig->results[0]));
    } else {
        sb_str(s, "struct wasm_multi_");
        for (int i = 0; i < sig->nresults; i++)
            sb_add(s, &(char){mletter(sig->results[i])}, 1);
    }
}

/* Return type text of a non-function import from the generated header's
 * "extern T* Z_envZ_kN(struct Z_env_instance_t*);" line. */
static int import_decl_type(const char *hdr, uint32_t idx, char *out, size_t cap)
{
    char needle[48];
    snprintf(needle, sizeof needle, " Z_envZ_k%u(struct", idx);
    const char *p = strstr(hdr, needle);
    if (!p) return -1;
    const char *line = p;
    while (line > hdr && line[-1] != '\n')
        line--;
    if (strncmp(line, "extern ", 7) != 0) return -1;
    line += 7;
    size_t n = (size_t)(p - line);
    if (n == 0 || n >= cap) return -1;
    memcpy(out, line, n);
    out[n] = 0;
    for (char *c = out; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '*' || *c == ' '))
            return -1;
    return 0;
}

/* The memory field of the instance struct, as an expression on `i`. */
static int memory_expr(const char *hdr, char *out, size_t cap)
{
    const char *st = strstr(hdr, "typedef struct Z_kiln_instance_t {");
    const char *en = st ? strstr(st, "} Z_kiln_instance_t;") : NULL;
    if (!st || !en) return -1;
    for (const char *p = st; p && p < en; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        const char *q = p;
        while (*q == ' ')
            q++;
        if (strncmp(q, "wasm_rt_memory_t ", 17) != 0) continue;
        q += 17;
        bool ptr = *q == '*';
        if (ptr) q++;
        size_t n = 0;
        while (q[n] && q[n] != ';' && n < 100)
            n++;
        snprintf(out, cap, "%s((Z_kiln_instance_t*)i)->%.*s", ptr ? "" : "&", (int)n, q);
        return 0;
    }
    out[0] = 0;
    return 0;
}

/* offsetof() of every non-bitfield member of wasm2c's instance struct, in order (the
 * layout tier 0 must share, see kiln__module_desc). */
static int layout_list(const char *hdr, sb *out, uint32_t *n)
{
    const char *st = strstr(hdr, "typedef struct Z_kiln_instance_t {");
    const char *en = st ? strstr(st, "} Z_kiln_instance_t;") : NULL;
    if (!st || !en) return -1;
    *n = 0;
    for (const char *p = strchr(st, '\n'); p && p < en; p = strchr(p + 1, '\n')) {
        const char *q = p + 1, *semi = strchr(q, ';'), *nl = strchr(q, '\n');
        if (!semi || !nl || semi > nl || q >= en) continue;
        bool bitfield = false;
        for (const char *c = q; c < semi; c++)
            if (*c == ':') bitfield = true;
        if (bitfield || strncmp(q, "  /*", 4) == 0) continue;
        const char *e = semi;
        while (e > q && (e[-1] == '_' || (e[-1] >= '0' && e[-1] <= '9') ||
                         (e[-1] >= 'a' && e[-1] <= 'z') || (e[-1] >= 'A' && e[-1] <= 'Z')))
            e--;
        if (e == semi) return -1;
        sb_fmt(out, "offsetof(Z_kiln_instance_t,%.*s),", (int)(semi - e), e);
        ++*n;
    }
    return 0;
}

static void gen_glue(sb *s, const kiln__modinfo *mi, const char *hdr, bool *ok)
{
    char tbuf[128], mexpr[160];
    sb_str(s, "\n/* ---- Kiln glue ---- */\n#include <stdarg.h>\n");
    sb_str(s, "void wasm_rt_trap(wasm_rt_trap_t c) { kiln__rt->trap((int)c); for (;;) {} }\n"
              "bool wasm_rt_is_initialized(void) { return true; }\n"
              "uint32_t wasm_rt_register_func_type(uint32_t np, uint32_t nr, ...) {\n"
              "  int ty[192]; va_list ap; va_start(ap, nr);\n"
              "  for (uint32_t k = 0; k < np + nr && k < 192; k++) ty[k] = va_arg(ap, int);\n"
              "  va_end(ap); return kiln__rt->register_func_type(np, nr, ty); }\n"
              "void wasm_rt_allocate_memory(wasm_rt_memory_t* m, uint32_t a, uint32_t b) { "
              "kiln__rt->allocate_memory(m, a, b); }\n"
              "uint32_t wasm_rt_grow_memory(wasm_rt_memory_t* m, uint32_t d) { return "
              "kiln__rt->grow_memory(m, d); }\n"
              "void wasm_rt_free_memory(wasm_rt_memory_t* m) { kiln__rt->free_memory(m); }\n"
              "void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t* t, uint32_t a, "
              "uint32_t b) { kiln__rt->allocate_funcref_table(t, a, b); }\n"
              "void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t* t) { "
              "kiln__rt->free_funcref_table(t); }\n"
              "uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t* t, uint32_t d, "
              "wasm_rt_funcref_t v) { return kiln__rt->grow_funcref_table(t, d, v); }\n"
              "void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t* t, uint32_t a, "
              "uint32_t b) { kiln__rt->allocate_externref_table(t, a, b); }\n"
              "void wasm_rt_free_externref_table(wasm_rt_externref_table_t* t) { "
              "kiln__rt->free_externref_table(t); }\n"
              "uint32_t wasm_rt_grow_externref_table(wasm_rt_externref_table_t* t, uint32_t d, "
              "wasm_rt_externref_t v) { return kiln__rt->grow_externref_table(t, d, v); }\n");
    sb_fmt(s, "static void (*kiln__hf[%u])(void);\n", mi->nimports ? mi->nimports : 1);
    for (uint32_t i = 0; i < mi->nimports; i++) {
        const kiln__import *im = &mi->imports[i];
        if (im->kind != KILN__EXT_FUNC) {
            if (import_decl_type(hdr, i, tbuf, sizeof tbuf)) {
                *ok = false;
                return;
            }
            sb_fmt(s,
                   "%s Z_envZ_k%u(struct Z_env_instance_t* c) { return "
                   "(%s)kiln__rt->import_ptr(*(void**)c, %u); }\n",
                   tbuf, i, tbuf, i);
            continue;
        }
        const kiln_wasm_sig *sig = &mi->types[im->type_index];
        ret_type(s, sig);
        sb_fmt(s, " Z_envZ_k%u(struct Z_env_instance_t* c0", i);
        for (int k = 0; k < sig->nparams; k++)
            sb_fmt(s, ", %s a%d", cgen_ctype(sig->params[k]), k);
        sb_str(s, ") {\n  struct Z_env_instance_t* c = *(struct Z_env_instance_t**)c0;\n");
        /* Fast path: a typed host function from the host table. */
        if (sig->nresults <= 1) {
            sb_fmt(s, "  if (LIKELY(kiln__hf[%u] != 0)) {\n    ", i);
            if (sig->nresults) sb_fmt(s, "%s r = ", cgen_ctype(sig->results[0]));
            sb_str(s, "((");
            ret_type(s, sig);
            sb_str(s, " (*)(struct Z_env_instance_t*");
            for (int k = 0; k < sig->nparams; k++)
                sb_fmt(s, ", %s", cgen_ctype(sig->params[k]));
            sb_fmt(s, "))kiln__hf[%u])(c", i);
            for (int k = 0; k < sig->nparams; k++)
                sb_fmt(s, ", a%d", k);
            sb_str(
                s,
                ");\n    if (UNLIKELY(((kiln__ctx_head*)c)->failed)) kiln__rt->host_check(c);\n");
            sb_str(s, sig->nresults ? "    return r;\n  }\n" : "    return;\n  }\n");
        }
        /* Generic path through the runtime (linking of modules, tests). */
        sb_fmt(s, "  kiln__val a[%d], r[%d];\n  ", sig->nparams + 1, sig->nresults + 1);
        cgen_pack_args(s, sig);
        sb_str(s, "\n");
        sb_fmt(s, "  kiln__rt->generic_import(c, %u, a, r);\n", i);
        if (sig->nresults == 1) {
            sb_str(s, "  return ");
            cgen_val_in(s, sig->results[0], "r", 0);
            sb_str(s, ";\n");
        } else if (sig->nresults > 1) {
            sb_str(s, "  ");
            ret_type(s, sig);
            sb_str(s, " v;\n");
            for (int k = 0; k < sig->nresults; k++) {
                sb_fmt(s, "  v.%c%d = ", mletter(sig->results[k]), k);
                cgen_val_in(s, sig->results[k], "r", k);
                sb_str(s, ";\n");
            }
            sb_str(s, "  return v;\n");
        }
        sb_str(s, "}\n");
    }
    /* Export trampolines. */
    uint32_t nfx = 0;
    for (uint32_t e = 0; e < mi->nexports; e++) {
        if (mi->exports[e].kind != KILN__EXT_FUNC) continue;
        const kiln_wasm_sig *sig = &mi->types[mi->func_types[mi->exports[e].index]];
        sb_fmt(s, "static void kiln__t%u(void* i, const kiln__val* a, kiln__val* r) {\n  ", nfx);
        if (sig->nresults) {
            ret_type(s, sig);
            sb_str(s, " v = ");
        }
        sb_fmt(s, "Z_kilnZ_e%u((Z_kiln_instance_t*)i", e);
        for (int k = 0; k < sig->nparams; k++) {
            sb_str(s, ", ");
            cgen_val_in(s, sig->params[k], "a", k);
        }
        sb_str(s, ");\n");
        if (sig->nresults == 1) {
            sb_str(s, "  ");
            cgen_val_out(s, sig->results[0], "r", 0, "v");
            sb_str(s, "\n");
        } else {
            for (int k = 0; k < sig->nresults; k++) {
                char ex[16];
                snprintf(ex, sizeof ex, "v.%c%d", mletter(sig->results[k]), k);
                sb_str(s, "  ");
                cgen_val_out(s, sig->results[k], "r", k, ex);
                sb_str(s, "\n");
            }
        }
        sb_str(s, "  (void)a; (void)r;\n}\n");
        nfx++;
    }
    sb_fmt(s, "static const kiln__tramp kiln__tramps[%u] = {", nfx ? nfx : 1);
    for (uint32_t k = 0; k < nfx; k++)
        sb_fmt(s, "%skiln__t%u", k ? ", " : "", k);
    sb_fmt(s, "%s};\nstatic const uint32_t kiln__exidx[%u] = {", nfx ? "" : "0", nfx ? nfx : 1);
    uint32_t k = 0;
    for (uint32_t e = 0; e < mi->nexports; e++)
        if (mi->exports[e].kind == KILN__EXT_FUNC) sb_fmt(s, "%s%u", k++ ? ", " : "", e);
    sb_fmt(s, "%s};\n", nfx ? "" : "0");
    sb_fmt(s,
           "static void kiln__inst(void* i, void* env) { "
           "Z_kiln_instantiate((Z_kiln_instance_t*)i%s); (void)env; }\n",
           mi->nimports ? ", (struct Z_env_instance_t*)env" : "");
    sb_str(s, "static void kiln__free(void* i) { Z_kiln_free((Z_kiln_instance_t*)i); }\n");
    sb_str(s, "static void* kiln__xptr(void* i, uint32_t e) {\n  switch (e) {\n");
    for (uint32_t e = 0; e < mi->nexports; e++)
        if (mi->exports[e].kind != KILN__EXT_FUNC)
            sb_fmt(s, "  case %u: return (void*)Z_kilnZ_e%u((Z_kiln_instance_t*)i);\n", e, e);
    sb_str(s, "  default: (void)i; return 0;\n  }\n}\n");
    if (memory_expr(hdr, mexpr, sizeof mexpr)) {
        *ok = false;
        return;
    }
    sb_fmt(s, "static wasm_rt_memory_t* kiln__mem(void* i) { (void)i; return %s; }\n",
           mexpr[0] ? mexpr : "0");
    sb lay = {0};
    uint32_t nlay = 0;
    if (layout_list(hdr, &lay, &nlay)) {
        free(lay.p);
        *ok = false;
        return;
    }
    sb_fmt(s, "static const uint32_t kiln__lay[%u] = {", nlay ? nlay : 1);
    if (lay.p) sb_str(s, lay.p);
    sb_str(s, nlay ? "};\n" : "0};\n");
    free(lay.p);
    sb_fmt(s,
           "static const kiln__module_desc kiln__desc = {KILN__ABI_VERSION, "
           "sizeof(Z_kiln_instance_t), kiln__inst, "
           "kiln__free, kiln__mem, %u, kiln__tramps, kiln__exidx, kiln__xptr, %u, kiln__lay};\n",
           nfx, nlay);
    sb_str(s, "__attribute__((visibility(\"default\"))) const kiln__module_desc* kiln__entry(const "
              "kiln__rt_api* rt, void (*const* hf)(void), uint32_t n) {\n"
              "  if (rt->abi_version != KILN__ABI_VERSION) return 0;\n  kiln__rt = rt;\n");
    sb_fmt(s, "  for (uint32_t k = 0; k < n && k < %u; k++) kiln__hf[k] = hf[k];\n",
           mi->nimports ? mi->nimports : 1);
    sb_str(s, "  Z_kiln_init_module();\n  return &kiln__desc;\n}\n");
}

/* Macros inserted after wasm2c's own prelude. */
static const char prelude[] =
    "\n/* ---- Kiln instrumentation ---- */\n"
    "#include \"kiln_abi.h\"\n"
    "static const kiln__rt_api* kiln__rt;\n"
    "#undef FUNC_PROLOGUE\n"
    "#define FUNC_PROLOGUE \\\n"
    "  if (UNLIKELY((uintptr_t)__builtin_frame_address(0) < KILN__TICK(instance)->stack_limit)) "
    "TRAP(EXHAUSTION); \\\n"
    "  KILN__ENTRY_FUEL\n"
    "#undef CALL_INDIRECT\n"
    "#define CALL_INDIRECT(table, t, ft, x, ...) \\\n"
    "  ((LIKELY((x) < table.size) || TRAP(UNINIT_ELEM)), (LIKELY(table.data[x].func != 0) || "
    "TRAP(UNINIT_ELEM)), \\\n"
    "   (LIKELY(table.data[x].func_type == func_types[ft]) || TRAP(TYPE_MISMATCH)), \\\n"
    "   ((t)table.data[x].func)(__VA_ARGS__))\n"
    /* tcc has no bit-counting builtins; tier 0 gets portable versions. */
    /* tcc compiles unary minus as 0 - x, which does not flip a NaN's sign. */
    "#ifdef __TINYC__\n"
    "static f32 kiln__negf(f32 x) { u32 b; memcpy(&b, &x, 4); b ^= 0x80000000u; memcpy(&x, &b, 4); "
    "return x; }\n"
    "static f64 kiln__negd(f64 x) { u64 b; memcpy(&b, &x, 8); b ^= 0x8000000000000000ull; "
    "memcpy(&x, &b, 8); return x; }\n"
    "#define KILN__NEGF(x) kiln__negf(x)\n#define KILN__NEGD(x) kiln__negd(x)\n"
    "#else\n#define KILN__NEGF(x) (-(x))\n#define KILN__NEGD(x) (-(x))\n#endif\n"
    "#ifdef __TINYC__\n"
    "static u32 kiln__clz64(u64 x) { u32 n = 0; if (!x) return 64; while (!(x >> 63)) { x <<= 1; "
    "n++; } return n; }\n"
    "static u32 kiln__ctz64(u64 x) { u32 n = 0; if (!x) return 64; while (!(x & 1)) { x >>= 1; "
    "n++; } return n; }\n"
    "static u32 kiln__pop64(u64 x) { u32 n = 0; while (x) { x &= x - 1; n++; } return n; }\n"
    "#undef I32_CLZ\n#define I32_CLZ(x) ((x) ? kiln__clz64((u64)(u32)(x)) - 32 : 32)\n"
    "#undef I64_CLZ\n#define I64_CLZ(x) kiln__clz64(x)\n"
    "#undef I32_CTZ\n#define I32_CTZ(x) ((x) ? kiln__ctz64((u64)(u32)(x)) : 32)\n"
    "#undef I64_CTZ\n#define I64_CTZ(x) kiln__ctz64(x)\n"
    "#undef I32_POPCNT\n#define I32_POPCNT(x) kiln__pop64((u64)(u32)(x))\n"
    "#undef I64_POPCNT\n#define I64_POPCNT(x) kiln__pop64(x)\n"
    "#endif\n";

static const char fuel_tick[] =
    "if (UNLIKELY(--KILN__TICK(instance)->fuel < 0)) kiln__rt->fuel_slow(instance)";

static bool is_loop_label(const char *line, size_t n)
{
    size_t i = 0;
    while (i < n && line[i] == ' ')
        i++;
    if (n - i < 7 || strncmp(line + i, "w2c_L", 5) != 0) return false;
    i += 5;
    size_t d = i;
    while (i < n && line[i] >= '0' && line[i] <= '9')
        i++;
    if (i == d || i >= n || line[i] != ':') return false;
    i++;
    while (i < n && line[i] == ' ')
        i++;
    return i == n;
}

/* "  w2c_f3 = -(w2c_f3);" (f32.neg / f64.neg): returns 'f' or 'd' and the
 * variable's extent, else 0. */
static char neg_line(const char *line, size_t n, size_t *v0, size_t *vlen)
{
    size_t i = 0;
    while (i < n && line[i] == ' ')
        i++;
    size_t a = i;
    if (n - i < 6 || strncmp(line + i, "w2c_", 4) != 0 ||
        (line[i + 4] != 'f' && line[i + 4] != 'd'))
        return 0;
    char kind = line[i + 4];
    i += 5;
    while (i < n && line[i] >= '0' && line[i] <= '9')
        i++;
    size_t len = i - a;
    if (len < 6 || n - i != len + 7 || strncmp(line + i, " = -(", 5) != 0 ||
        strncmp(line + i + 5, line + a, len) != 0 || strncmp(line + i + 5 + len, ");", 2) != 0)
        return 0;
    *v0 = a, *vlen = len;
    return kind;
}

static int instrument(const char *src, const char *hdr, const kiln__modinfo *mi,
                      const kiln__gen_opts *o, sb *out)
{
    const char *a = strstr(src, "static inline void funcref_table_init");
    const char *b = a ? strstr(a, "static bool s_module_initialized") : NULL;
    if (!a || !b) return -1;
    sb_add(out, src, (size_t)(a - src));
    sb_str(out, "#define KILN__ENTRY_FUEL ");
    sb_str(out, o->no_fuel ? "" : fuel_tick);
    sb_str(out, o->no_fuel ? "\n#define KILN__LOOP\n" : ";\n#define KILN__LOOP ");
    sb_str(out, o->no_fuel ? "" : fuel_tick);
    sb_str(out, "\n");
    sb_str(out, prelude);
    /* Table helpers: their out-of-bounds traps are table traps, not memory ones. */
    for (const char *p = a; p < b;) {
        const char *t = strstr(p, "TRAP(OOB)");
        if (!t || t >= b) {
            sb_add(out, p, (size_t)(b - p));
            break;
        }
        sb_add(out, p, (size_t)(t - p));
        sb_str(out, "TRAP(OOB_TABLE)");
        p = t + 9;
    }
    for (const char *p = b; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        size_t v0, vl;
        char neg = neg_line(p, n, &v0, &vl);
        if (neg)
            sb_fmt(out, "%.*s = KILN__NEG%c(%.*s);", (int)(v0 + vl), p, neg == 'f' ? 'F' : 'D',
                   (int)vl, p + v0);
        else
            sb_add(out, p, n);
        if (!o->no_fuel && is_loop_label(p, n)) sb_str(out, " KILN__LOOP;");
        if (nl) sb_add(out, "\n", 1);
        p += n + (nl ? 1 : 0);
    }
    bool ok = true;
    gen_glue(out, mi, hdr, &ok);
    return ok && !out->oom ? 0 : -1;
}

int kiln__translate(const kiln__modinfo *mi, const kiln__gen_opts *o, const char *base,
                    char **dir_out, kiln_wasm_error *err)
{
    char tmpl[4096], why[256], path[4200];
    char *src = NULL, *hdr = NULL;
    sb out = {0};
    size_t n;
    if (!base || !*base) base = getenv("TMPDIR");
    /* the pid in the name tells kiln_wasm_cache_sweep whose dir it is */
    snprintf(tmpl, sizeof tmpl, "%s/kiln-wasm-%d-XXXXXX", base && *base ? base : "/tmp",
             (int)getpid());
    if (!mkdtemp(tmpl)) {
        kiln__werr(err, KILN_WASM_EIO, NULL, -1, -1, "mkdtemp: %s", strerror(errno));
        return KILN_WASM_EIO;
    }
    snprintf(path, sizeof path, "%s/m.wasm", tmpl);
    if (write_file(path, mi->stripped, mi->stripped_len)) {
        kiln__werr(err, KILN_WASM_EIO, NULL, -1, -1, "cannot write %s", path);
        goto fail;
    }
    char *argv[] = {"wasm2c", "--no-debug-names", "-n", "kiln", "m.wasm", "-o", "m.c", NULL};
    limits_t lim = {
        .cpu_s = 20, .as_bytes = 2ull << 30, .fsize_bytes = 512ull << 20, .timeout_ms = 30000};
    if (run_child(argv, tmpl, &lim, why, sizeof why)) {
        kiln__werr(err, KILN_WASM_EREJECT, NULL, -1, -1, "module rejected by translator: %s", why);
        goto fail;
    }
    snprintf(path, sizeof path, "%s/m.c", tmpl);
    src = read_file(path, &n);
    snprintf(path, sizeof path, "%s/m.h", tmpl);
    hdr = read_file(path, &n);
    if (!src || !hdr || instrument(src, hdr, mi, o, &out)) {
        kiln__werr(err, KILN_WASM_ECOMPILE, NULL, -1, -1,
                   "unexpected wasm2c output (instrumentation failed)");
        goto fail;
    }
    snprintf(path, sizeof path, "%s/k.c", tmpl);
    if (write_file(path, out.p, out.len)) {
        kiln__werr(err, KILN_WASM_EIO, NULL, -1, -1, "cannot write %s", path);
        goto fail;
    }
    snprintf(path, sizeof path, "%s/kiln_abi.h", tmpl);
    if (write_file(path, kiln__abi_text, strlen(kiln__abi_text))) {
        kiln__werr(err, KILN_WASM_EIO, NULL, -1, -1, "cannot write %s", path);
        goto fail;
    }
    snprintf(path, sizeof path, "%s/m.c", tmpl);
    unlink(path);
    free(src), free(hdr), free(out.p);
    *dir_out = strdup(tmpl);
    if (!*dir_out) {
        kiln__rmtree(tmpl);
        kiln__werr(err, KILN_WASM_ENOMEM, NULL, -1, -1, "out of memory");
        return KILN_WASM_ENOMEM;
    }
    return 0;
fail:
    free(src), free(hdr), free(out.p);
    kiln__rmtree(tmpl);
    return err ? err->code : KILN_WASM_ECOMPILE;
}

/* Tier 0 through Kiln's own translator (wasm_xlate.c): no wasm2c child. */
int kiln__translate_own(const kiln__modinfo *mi, const kiln__gen_opts *o, const char *base,
                        char **dir_out, char *why, size_t why_cap, kiln_wasm_error *err)
{
    char tmpl[4096], path[4200];
    char *c = NULL;
    size_t clen = 0;
    kiln__xl_opts xo = {.explicit_bounds = o->explicit_bounds, .no_fuel = o->no_fuel};
    int rc = kiln__xlate(mi, &xo, &c, &clen, why, why_cap, err);
    if (rc) return rc;
    if (!base || !*base) base = getenv("TMPDIR");
    snprintf(tmpl, sizeof tmpl, "%s/kiln-wasm-%d-XXXXXX", base && *base ? base : "/tmp",
             (int)getpid());
    if (!mkdtemp(tmpl)) {
        free(c);
        kiln__werr(err, KILN_WASM_EIO, NULL, -1, -1, "mkdtemp: %s", strerror(errno));
        return KILN_WASM_EIO;
    }
    snprintf(path, sizeof path, "%s/k.c", tmpl);
    int w = write_file(path, c, clen); /* self-contained: kiln_abi.h is inside */
    free(c);
    if (w) {
        kiln__werr(err, KILN_WASM_EIO, NULL, -1, -1, "cannot write %s", path);
        kiln__rmtree(tmpl);
        return KILN_WASM_EIO;
    }
    *dir_out = strdup(tmpl);
    if (!*dir_out) {
        kiln__rmtree(tmpl);
        kiln__werr(err, KILN_WASM_ENOMEM, NULL, -1, -1, "out of memory");
        return KILN_WASM_ENOMEM;
    }
    return 0;
}

/* Part of the cache key: bump when the instrumentation/glue generator or the
 * compiler flags below change. */
const char kiln__codegen_id[] =
    "codegen 2; tier1: cc -O2 -fPIC -shared -fno-optimize-sibling-calls -frounding-math "
    "-fsignaling-nans -fno-strict-aliasing -fvisibility=hidden -Wl,-Bsymbolic";

int kiln__compile(const char *dir, int tier, const kiln__gen_opts *o, kiln_wasm_error *err)
{
    char why[256];
    const char *mem = o->explicit_bounds ? "-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0"
                                         : "-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=1";
    limits_t lim = {
        .cpu_s = 60, .as_bytes = 4ull << 30, .fsize_bytes = 512ull << 20, .timeout_ms = 120000};
    int rc;
    if (tier == 0) {
        char *argv[] = {"tcc",       "-shared", "-DNDEBUG", "-DWASM_RT_USE_STACK_DEPTH_COUNT=0",
                        (char *)mem, "-I.",     "-o",       "t0.so",
                        "k.c",       "-lm",     NULL};
        lim.cpu_s = 20, lim.timeout_ms = 30000;
        rc = run_child(argv, dir, &lim, why, sizeof why);
    } else {
        const char *cc = getenv("KILN_CC");
        char *argv[] = {(char *)(cc && *cc ? cc : "cc"),
                        "-O2",
                        "-fPIC",
                        "-shared",
                        "-fno-optimize-sibling-calls",
                        "-frounding-math",
                        "-fsignaling-nans",
                        "-fno-strict-aliasing",
                        "-fvisibility=hidden",
                        "-w",
                        "-DNDEBUG",
                        "-DWASM_RT_USE_STACK_DEPTH_COUNT=0",
                        (char *)mem,
                        "-I.",
                        "-Wl,-Bsymbolic",
                        "-o",
                        "t1.so",
                        "k.c",
                        "-lm",
                        NULL};
        rc = run_child(argv, dir, &lim, why, sizeof why);
    }
    if (rc) {
        kiln__werr(err, KILN_WASM_ECOMPILE, NULL, -1, -1, "tier %d compile failed: %s", tier, why);
        return KILN_WASM_ECOMPILE;
    }
    return 0;
}

/* Kiln's own tier-0 C declares everything it uses (wasm_xlate.c): no C library, no crt
 * files; only libtcc1 for tcc's own helpers (e.g. double -> u64), and libm when the C asks
 * for it (#pragma comment(lib)). The C library functions it calls (memcpy, memmove, memset)
 * bind to the server's at dlopen. */
int kiln__compile_own(const char *dir, const kiln__gen_opts *o, kiln_wasm_error *err)
{
    char why[256];
    (void)o;
    limits_t lim = {
        .cpu_s = 20, .as_bytes = 4ull << 30, .fsize_bytes = 512ull << 20, .timeout_ms = 30000};
    char *argv[] = {"tcc", "-nostdlib", "-shared", "-o", "t0.so", "k.c", "-L{B}", "-ltcc1", NULL};
    int rc = kiln__tccd_compile(dir, (uint32_t)lim.cpu_s, lim.as_bytes, lim.fsize_bytes,
                                (uint32_t)lim.timeout_ms, why, sizeof why);
    if (rc == 1) /* no compile server: exec tcc */
        rc = run_child(argv, dir, &lim, why, sizeof why);
    if (rc) {
        kiln__werr(err, KILN_WASM_ECOMPILE, NULL, -1, -1, "tier 0 compile failed: %s", why);
        return KILN_WASM_ECOMPILE;
    }
    return 0;
}

int kiln__code_open(const char *so_path, const kiln__modinfo *mi, int tier, kiln__code **out,
                    kiln_wasm_error *err)
{
    kiln__code *c = calloc(1, sizeof *c);
    void (**hf)(void) = calloc(mi->nimports ? mi->nimports : 1, sizeof *hf);
    extern void (*kiln__host_fn(int i))(void);
    if (!c || !hf) {
        kiln__werr(err, KILN_WASM_ENOMEM, NULL, -1, -1, "out of memory");
        goto fail;
    }
    c->tier = tier;
    c->dl = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
    if (!c->dl) {
        kiln__werr(err, KILN_WASM_ECOMPILE, NULL, -1, -1, "dlopen: %s", dlerror());
        goto fail;
    }
    kiln__entry_fn entry = (kiln__entry_fn)dlsym(c->dl, "kiln__entry");
    for (uint32_t i = 0; i < mi->nimports; i++)
        hf[i] = mi->imports[i].host_index >= 0 ? kiln__host_fn(mi->imports[i].host_index) : NULL;
    c->desc = entry ? entry(&kiln__rt_api_table, (void (*const *)(void))hf, mi->nimports) : NULL;
    if (!c->desc) {
        kiln__werr(err, KILN_WASM_ECOMPILE, NULL, -1, -1,
                   "compiled module has no usable entry point");
        goto fail;
    }
    free(hf);
    *out = c;
    return 0;
fail:
    if (c && c->dl) dlclose(c->dl);
    free(c);
    free(hf);
    return err ? err->code : KILN_WASM_ECOMPILE;
}

void kiln__code_close(kiln__code *c)
{
    if (!c) return;
    if (c->dl) dlclose(c->dl);
    free(c);
}
