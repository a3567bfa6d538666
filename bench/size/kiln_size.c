/* Where a data directory's bytes go: per shard, the write-ahead log, the stored-fields files and
 * the search segments, the segments broken down by section (segment-wide and per field).
 *
 *   kiln_size DATA_DIR [--fields]
 *
 * Segment sections come from kiln__segment_stat, which mirrors the writer (segfile.c). */
#include "search/searchInt.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct kiln__row {
    char key[192];
    size_t bytes;
} kiln__row;

typedef struct kiln__rows {
    kiln__row *v;
    size_t n;
} kiln__rows;

static void kiln__add(kiln__rows *r, const char *key, size_t bytes)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->v[i].key, key)) {
            r->v[i].bytes += bytes;
            return;
        }
    r->v = realloc(r->v, (r->n + 1) * sizeof *r->v);
    snprintf(r->v[r->n].key, sizeof r->v[r->n].key, "%s", key);
    r->v[r->n++].bytes = bytes;
}

static int kiln__cmp_rows(const void *a, const void *b)
{
    const kiln__row *x = a, *y = b;
    return (x->bytes < y->bytes) - (x->bytes > y->bytes);
}

static void kiln__print(const char *title, kiln__rows *r, size_t total)
{
    qsort(r->v, r->n, sizeof *r->v, kiln__cmp_rows);
    printf("\n| %s | MB | share |\n|---|---:|---:|\n", title);
    for (size_t i = 0; i < r->n; i++)
        printf("| %s | %.1f | %.1f%% |\n", r->v[i].key, r->v[i].bytes / 1e6,
               total ? 100.0 * r->v[i].bytes / total : 0.0);
}

typedef struct kiln__acc {
    kiln__rows sections, fields;
} kiln__acc;

static void kiln__on_section(void *ctx, const char *field, const char *section, size_t bytes)
{
    kiln__acc *a = ctx;
    char key[192];
    kiln__add(&a->sections, section, bytes);
    snprintf(key, sizeof key, "%s: %s", field ? field : "(segment)", section);
    kiln__add(&a->fields, key, bytes);
}

static size_t kiln__file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) ? 0 : (size_t)st.st_size;
}

/* Sums the files of dir whose names end with ext into *bytes; returns the count. */
static size_t kiln__sum_dir(const char *dir, const char *ext, size_t *bytes)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name), el = strlen(ext);
        if (l < el || strcmp(e->d_name + l - el, ext)) continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        *bytes += kiln__file_bytes(p);
        n++;
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: kiln_size DATA_DIR [--fields]\n");
        return 2;
    }
    int per_field = argc > 2 && !strcmp(argv[2], "--fields");
    char ip[2048];
    snprintf(ip, sizeof ip, "%s/indices", argv[1]);
    DIR *idx = opendir(ip);
    if (!idx) {
        perror(ip);
        return 1;
    }
    kiln__acc acc = {0};
    size_t wal = 0, docs = 0, segs = 0, nseg = 0, other = 0;
    for (struct dirent *ie; (ie = readdir(idx));) {
        if (ie->d_name[0] == '.') continue;
        for (unsigned sh = 0;; sh++) {
            char sd[2048], sub[2100];
            snprintf(sd, sizeof sd, "%s/%s/%u", ip, ie->d_name, sh);
            struct stat st;
            if (stat(sd, &st)) break;
            snprintf(sub, sizeof sub, "%s/translog", sd);
            kiln__sum_dir(sub, ".log", &wal);
            snprintf(sub, sizeof sub, "%s/docs", sd);
            kiln__sum_dir(sub, ".kdoc", &docs);
            snprintf(sub, sizeof sub, "%s/search", sd);
            DIR *d = opendir(sub);
            for (struct dirent *e; d && (e = readdir(d));) {
                unsigned base;
                char tail[8] = "";
                /* seg-<base>.ksg only: a .tmp left by an interrupted write is not a segment */
                if (sscanf(e->d_name, "seg-%u.ks%7s", &base, tail) != 2 || strcmp(tail, "g"))
                    continue;
                char p[2300];
                snprintf(p, sizeof p, "%s/%s", sub, e->d_name);
                segs += kiln__file_bytes(p);
                kiln_error err;
                kiln_segment *s = kiln__segment_open(sub, base, &err);
                if (!s) {
                    fprintf(stderr, "%s\n", err.reason);
                    continue;
                }
                nseg++;
                kiln__segment_stat(s, kiln__on_section, &acc);
                kiln__segment_unref(s);
            }
            if (d) closedir(d);
            snprintf(sub, sizeof sub, "%s/commit", sd);
            other += kiln__file_bytes(sub);
        }
    }
    closedir(idx);
    size_t total = wal + docs + segs + other;
    printf("| part | MB | share |\n|---|---:|---:|\n");
    printf("| write-ahead log | %.1f | %.1f%% |\n", wal / 1e6, 100.0 * wal / total);
    printf("| stored documents (.kdoc) | %.1f | %.1f%% |\n", docs / 1e6, 100.0 * docs / total);
    printf("| search segments (%zu, .ksg) | %.1f | %.1f%% |\n", nseg, segs / 1e6,
           100.0 * segs / total);
    printf("| total | %.1f | |\n", total / 1e6);
    kiln__print("segment section (all fields)", &acc.sections, segs);
    if (per_field) kiln__print("field: section", &acc.fields, segs);
    return 0;
}
