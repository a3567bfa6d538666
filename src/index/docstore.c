#include "index/docstore.h"
#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define KILN_DOC_HEADER 16
#define KILN_DOC_RECORD 32 /* fixed part of a record */
#define KILN_DOC_FOOTER 24

typedef struct {
    kiln_docstore_file info;
    const uint8_t *map;
    size_t size;
    const uint8_t *offsets;
} kiln__docfile;

/* A tail document: one allocation holding the fixed part, the id and the source. */
typedef struct {
    int64_t seq_no, version, primary_term;
    uint32_t idlen, srclen;
    char bytes[];
} kiln__taildoc;

struct kiln_docstore {
    char dir[1024];
    kiln__docfile *files;
    size_t nfiles;
    kiln_docstore_file *infos; /* mirror of files[].info for kiln_docstore_files */
    uint32_t tail_first;
    kiln__taildoc **tail;
    size_t ntail, tail_cap;
    size_t tail_bytes;
    uint64_t disk_bytes;
};

static void kiln__file_path(const kiln_docstore *ds, uint32_t first, char *out, size_t cap)
{
    snprintf(out, cap, "%s/docs-%010" PRIu32 ".kdoc", ds->dir, first);
}

static int kiln__map_file(kiln_docstore *ds, kiln_docstore_file info, kiln__docfile *f,
                          kiln_error *err)
{
    char path[1200];
    kiln__file_path(ds, info.first, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kiln_fail(err, KILN_E_IO, "open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return kiln_fail(err, KILN_E_IO, "stat %s: %s", path, strerror(errno));
    }
    size_t size = (size_t)st.st_size;
    if (size < KILN_DOC_HEADER + KILN_DOC_FOOTER) {
        close(fd);
        return kiln_fail(err, KILN_E_IO, "%s: truncated stored-fields file", path);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return kiln_fail(err, KILN_E_IO, "mmap %s: %s", path, strerror(errno));
    const uint8_t *p = map;
    uint64_t offpos, sum;
    memcpy(&offpos, p + size - KILN_DOC_FOOTER, 8);
    memcpy(&sum, p + size - 16, 8);
    uint32_t first, count;
    memcpy(&first, p + 8, 4);
    memcpy(&count, p + 12, 4);
    const char *why = NULL;
    if (memcmp(p, "KILNDOC1", 8) || memcmp(p + size - 8, "KDOCEND1", 8))
        why = "bad magic";
    else if (kiln_checksum(p, size - 16) != sum)
        why = "checksum mismatch";
    else if (first != info.first || count != info.count ||
             offpos + (uint64_t)count * 8 != size - KILN_DOC_FOOTER)
        why = "header does not match the commit point";
    if (why) {
        munmap(map, size);
        return kiln_fail(err, KILN_E_IO, "%s: corrupt stored-fields file (%s)", path, why);
    }
    f->info = info;
    f->map = p;
    f->size = size;
    f->offsets = p + offpos;
    ds->disk_bytes += size;
    return 0;
}

kiln_docstore *kiln_docstore_open(const char *dir, const kiln_docstore_file *files, size_t n,
                                  kiln_error *err)
{
    kiln_docstore *ds = kiln_xcalloc(1, sizeof *ds);
    snprintf(ds->dir, sizeof ds->dir, "%s", dir);
    if (kiln_fs_mkdirs(dir, err)) goto fail;
    ds->files = kiln_xcalloc(n ? n : 1, sizeof *ds->files);
    ds->infos = kiln_xcalloc(n ? n : 1, sizeof *ds->infos);
    for (size_t i = 0; i < n; i++) {
        if (kiln__map_file(ds, files[i], &ds->files[i], err)) goto fail;
        ds->infos[i] = files[i];
        ds->nfiles++;
        ds->tail_first = files[i].first + files[i].count;
    }
    return ds;
fail:
    kiln_docstore_close(ds);
    return NULL;
}

void kiln_docstore_close(kiln_docstore *ds)
{
    if (!ds) return;
    for (size_t i = 0; i < ds->nfiles; i++) munmap((void *)ds->files[i].map, ds->files[i].size);
    for (size_t i = 0; i < ds->ntail; i++) free(ds->tail[i]);
    free(ds->tail);
    free(ds->files);
    free(ds->infos);
    free(ds);
}

uint32_t kiln_docstore_next(const kiln_docstore *ds)
{
    return ds->tail_first + (uint32_t)ds->ntail;
}

void kiln_docstore_add(kiln_docstore *ds, const kiln_stored_doc *doc)
{
    if (ds->ntail == ds->tail_cap) {
        ds->tail_cap = ds->tail_cap ? ds->tail_cap * 2 : 1024;
        ds->tail = kiln_xrealloc(ds->tail, ds->tail_cap * sizeof *ds->tail);
    }
    kiln__taildoc *t = kiln_xmalloc(sizeof *t + doc->idlen + doc->srclen);
    t->seq_no = doc->seq_no;
    t->version = doc->version;
    t->primary_term = doc->primary_term;
    t->idlen = (uint32_t)doc->idlen;
    t->srclen = (uint32_t)doc->srclen;
    memcpy(t->bytes, doc->id, doc->idlen);
    memcpy(t->bytes + doc->idlen, doc->src, doc->srclen);
    ds->tail[ds->ntail++] = t;
    ds->tail_bytes += KILN_DOC_RECORD + 8 + doc->idlen + doc->srclen;
}

int kiln_docstore_get(const kiln_docstore *ds, uint32_t docnum, kiln_stored_doc *out)
{
    if (docnum >= ds->tail_first) {
        size_t i = docnum - ds->tail_first;
        if (i >= ds->ntail) return -1;
        const kiln__taildoc *t = ds->tail[i];
        *out = (kiln_stored_doc){t->bytes, t->idlen, t->bytes + t->idlen, t->srclen,
                                 t->seq_no, t->version, t->primary_term};
        return 0;
    }
    size_t lo = 0, hi = ds->nfiles;
    while (lo < hi) { /* last file with first <= docnum */
        size_t mid = (lo + hi) / 2;
        if (ds->files[mid].info.first <= docnum)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return -1;
    const kiln__docfile *f = &ds->files[lo - 1];
    uint32_t i = docnum - f->info.first;
    if (i >= f->info.count) return -1;
    uint64_t off;
    memcpy(&off, f->offsets + (size_t)i * 8, 8);
    const uint8_t *r = f->map + off;
    uint32_t idlen, srclen;
    memcpy(&out->seq_no, r, 8);
    memcpy(&out->version, r + 8, 8);
    memcpy(&out->primary_term, r + 16, 8);
    memcpy(&idlen, r + 24, 4);
    memcpy(&srclen, r + 28, 4);
    out->id = (const char *)r + KILN_DOC_RECORD;
    out->idlen = idlen;
    out->src = out->id + idlen;
    out->srclen = srclen;
    return 0;
}

int kiln_docstore_flush(kiln_docstore *ds, kiln_error *err)
{
    if (ds->ntail == 0) return 0;
    kiln_buf b = KILN_BUF_INIT;
    uint32_t first = ds->tail_first, count = (uint32_t)ds->ntail;
    kiln_buf_reserve(&b, ds->tail_bytes + 64);
    kiln_buf_append(&b, "KILNDOC1", 8);
    kiln_buf_append(&b, &first, 4);
    kiln_buf_append(&b, &count, 4);
    uint64_t *offs = kiln_xmalloc(count * sizeof *offs);
    for (uint32_t i = 0; i < count; i++) {
        const kiln__taildoc *t = ds->tail[i];
        offs[i] = b.len;
        kiln_buf_append(&b, &t->seq_no, 8);
        kiln_buf_append(&b, &t->version, 8);
        kiln_buf_append(&b, &t->primary_term, 8);
        kiln_buf_append(&b, &t->idlen, 4);
        kiln_buf_append(&b, &t->srclen, 4);
        kiln_buf_append(&b, t->bytes, (size_t)t->idlen + t->srclen);
    }
    uint64_t offpos = b.len;
    kiln_buf_append(&b, offs, count * sizeof *offs);
    free(offs);
    kiln_buf_append(&b, &offpos, 8);
    uint64_t sum = kiln_checksum(b.data, b.len);
    kiln_buf_append(&b, &sum, 8);
    kiln_buf_append(&b, "KDOCEND1", 8);
    char path[1200];
    kiln__file_path(ds, first, path, sizeof path);
    int rc = kiln_fs_write_atomic(path, b.data, b.len, err);
    kiln_buf_free(&b);
    if (rc) return rc;
    kiln__docfile f;
    kiln_docstore_file info = {first, count};
    if (kiln__map_file(ds, info, &f, err)) return -1;
    ds->files = kiln_xrealloc(ds->files, (ds->nfiles + 1) * sizeof *ds->files);
    ds->infos = kiln_xrealloc(ds->infos, (ds->nfiles + 1) * sizeof *ds->infos);
    ds->files[ds->nfiles] = f;
    ds->infos[ds->nfiles] = info;
    ds->nfiles++;
    for (size_t i = 0; i < ds->ntail; i++) free(ds->tail[i]);
    ds->ntail = 0;
    ds->tail_bytes = 0;
    ds->tail_first = first + count;
    return 0;
}

const kiln_docstore_file *kiln_docstore_files(const kiln_docstore *ds, size_t *n)
{
    *n = ds->nfiles;
    return ds->infos;
}

size_t kiln_docstore_tail_bytes(const kiln_docstore *ds)
{
    return ds->tail_bytes;
}

uint64_t kiln_docstore_disk_bytes(const kiln_docstore *ds)
{
    return ds->disk_bytes;
}
