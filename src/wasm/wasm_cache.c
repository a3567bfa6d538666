/* Disk cache of tier-1 artifacts: <dir>/<module sha256>-<toolchain key>.so with a
 * <file>.sum holding the artifact's own sha256, so a truncated or corrupted entry
 * is detected and rebuilt. The toolchain key covers the ABI text, the code
 * generation options and the identity (resolved path, size, mtime) of wasm2c and
 * the C compiler, so upgrading a tool makes old entries stale (different name). */
#include "wasm_rt_int.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern const char kiln__abi_text[];
extern const char kiln__codegen_id[];

static void tool_identity(const char *name, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    char buf[1024], real[4096];
    out[0] = 0;
    if (!path) path = "/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name);
        struct stat st;
        if (realpath(buf, real) && stat(real, &st) == 0) {
            snprintf(out, cap, "%s:%lld:%lld", real, (long long)st.st_size, (long long)st.st_mtime);
            return;
        }
        path += n + (colon ? 1 : 0);
    }
}

int kiln__cache_path(const char *cache_dir, const char *hash, const kiln__gen_opts *o, char *out,
                     size_t cap)
{
    char key[65]; /* per call: loads and tier-1 threads compute paths concurrently */
    char ids[3 * 4200 + 512];
    char w[4200], c[4200];
    tool_identity("wasm2c", w, sizeof w);
    const char *cc = getenv("KILN_CC");
    tool_identity(cc && *cc ? cc : "cc", c, sizeof c);
    int n = snprintf(ids, sizeof ids, "%s|%s|%s|eb=%d|nf=%d|", w, c, kiln__codegen_id,
                     o->explicit_bounds, o->no_fuel);
    size_t al = strlen(kiln__abi_text);
    char *all = malloc((size_t)n + al + 1);
    if (!all) return -1;
    memcpy(all, ids, (size_t)n);
    memcpy(all + n, kiln__abi_text, al + 1);
    kiln__sha256_hex(all, (size_t)n + al, key);
    free(all);
    if (mkdir(cache_dir, 0700) != 0 && errno != EEXIST) return -1;
    snprintf(out, cap, "%s/%s-%.16s.so", cache_dir, hash, key);
    return 0;
}

static int file_sha(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rbe");
    if (!f) return -1;
    size_t cap = 1 << 20, len = 0;
    char *p = malloc(cap);
    while (p) {
        size_t r = fread(p + len, 1, cap - len, f);
        len += r;
        if (len < cap) break;
        char *np = realloc(p, cap * 2);
        if (!np) {
            free(p);
            p = NULL;
            break;
        }
        p = np, cap *= 2;
    }
    fclose(f);
    if (!p) return -1;
    kiln__sha256_hex(p, len, hex);
    free(p);
    return 0;
}

int kiln__cache_check(const char *path)
{
    char sum_path[4200], want[80] = {0}, got[65];
    snprintf(sum_path, sizeof sum_path, "%s.sum", path);
    FILE *f = fopen(sum_path, "re");
    if (!f) return -1;
    size_t n = fread(want, 1, 64, f);
    fclose(f);
    if (n != 64 || file_sha(path, got) || memcmp(want, got, 64) != 0) {
        unlink(path);
        unlink(sum_path);
        return -1;
    }
    return 0;
}

/* Copies src to path atomically (tmp + rename), then writes the checksum. */
int kiln__cache_store(const char *src, const char *path)
{
    char tmp[4200], sum_path[4200], hex[65];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    snprintf(sum_path, sizeof sum_path, "%s.sum", path);
    FILE *in = fopen(src, "rbe"), *out = in ? fopen(tmp, "wbe") : NULL;
    char buf[65536];
    size_t r;
    int rc = -1;
    if (!in || !out) goto done;
    while ((r = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, r, out) != r) goto done;
    if (fflush(out) || fsync(fileno(out))) goto done;
    fclose(out);
    out = NULL;
    if (file_sha(tmp, hex) || rename(tmp, path)) goto done;
    /* The checksum is renamed into place too: concurrent processes (several build
     * dirs share a cache) never read a half-written one. */
    char sum_tmp[4300];
    snprintf(sum_tmp, sizeof sum_tmp, "%s.tmp%d", sum_path, (int)getpid());
    FILE *s = fopen(sum_tmp, "we");
    if (!s) goto done;
    size_t w = fwrite(hex, 1, 64, s);
    if (fclose(s) == 0 && w == 64 && rename(sum_tmp, sum_path) == 0) rc = 0;
    unlink(sum_tmp);
done:
    if (in) fclose(in);
    if (out) fclose(out);
    unlink(tmp);
    return rc;
}

void kiln_wasm_cache_sweep(const char *cache_dir)
{
    char tmp[4200], path[4600];
    snprintf(tmp, sizeof tmp, "%s/tmp", cache_dir);
    DIR *d = opendir(tmp);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid;
        if (sscanf(e->d_name, "kiln-wasm-%d-", &pid) != 1 || pid <= 0) continue;
        if (kill(pid, 0) == 0 || errno != ESRCH) continue; /* its process is alive */
        snprintf(path, sizeof path, "%s/%s", tmp, e->d_name);
        kiln__rmtree(path);
    }
    closedir(d);
}
