#include "wtest.h"

#include <time.h>
#include <unistd.h>

int wtest_failures;

uint8_t *wtest_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

uint8_t *wtest_wat(const char *wat, size_t *len, const char *extra_flags)
{
    char dir[] = "/tmp/kiln-wtest-XXXXXX", path[256], cmd[1024];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(path, sizeof path, "%s/m.wat", dir);
    FILE *f = fopen(path, "w");
    fputs(wat, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s %s/m.wat -o %s/m.wasm", extra_flags ? extra_flags : "",
             dir, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "wat2wasm failed for:\n%s\n", wat);
        exit(2);
    }
    snprintf(path, sizeof path, "%s/m.wasm", dir);
    uint8_t *b = wtest_read(path, len);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {
    }
    return b;
}

static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0) v = atol(line + kl);
    if (f) fclose(f);
    return v;
}

long wtest_rss_kib(void)
{
    return status_kib("VmRSS:");
}
long wtest_vm_kib(void)
{
    return status_kib("VmSize:");
}

uint64_t wtest_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
