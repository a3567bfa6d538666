/* Analysis throughput: MB/s and µs per ~0.5 KB document for each analyzer, on a generated
 * product-catalogue corpus and optionally on real text files (one document per line).
 *
 *   bench_analysis [--mb N] [--only ANALYZER] [FILE...]
 *
 * Single-threaded; the number that matters for indexing is µs per document. */
#include "analysis/analysis.h"
#include "../bench_clock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *data;
    size_t len;
    size_t *doc_off; /* document i is data[doc_off[i] .. doc_off[i+1]) */
    size_t ndocs;
} corpus;

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *const vocab[] = {
    "the",        "and",        "with",       "for",        "of",          "a",
    "in",         "to",         "is",         "stainless",  "steel",       "wireless",
    "bluetooth",  "headphones", "noise",      "cancelling", "battery",     "life",
    "hours",      "charging",   "USB-C",      "cable",      "compatible",  "iPhone",
    "Samsung",    "Galaxy",     "laptop",     "stand",      "adjustable",  "ergonomic",
    "office",     "chair",      "lumbar",     "support",    "mesh",        "breathable",
    "kitchen",    "blender",    "speeds",     "BPA-free",   "jar",         "dishwasher",
    "safe",       "cotton",     "T-shirt",    "men's",      "women's",     "slim",
    "fit",        "organic",    "coffee",     "beans",      "roast",       "Colombian",
    "arabica",    "café",       "crème",      "brûlée",     "naïve",       "garden",
    "hose",       "expandable", "outdoor",    "LED",        "lights",      "waterproof",
    "IP67",       "smart",      "home",       "Wi-Fi",      "Alexa",       "Google",
    "assistant",  "premium",    "quality",    "durable",    "lightweight", "portable",
    "travel",     "backpack",   "anti-theft", "running",    "shoes",       "cushioning",
    "jumped",     "quickly",    "generously", "children's", "toys",        "educational",
    "building",   "blocks",     "pieces",     "gift",       "birthday",    "Christmas",
    "O'Reilly's", "3.14",       "1,000",      "2024",       "12",          "500ml",
    "4K",         "HDR",        "television", "inches",     "remote",
};

static void gen_corpus(corpus *c, size_t target)
{
    size_t nv = sizeof vocab / sizeof vocab[0];
    c->data = malloc(target + 1024);
    c->doc_off = malloc((target / 64 + 2) * sizeof *c->doc_off);
    c->len = 0;
    c->ndocs = 0;
    while (c->len < target) {
        c->doc_off[c->ndocs++] = c->len;
        size_t doc_end = c->len + 400 + next_rand() % 200; /* ~0.5 KB documents */
        while (c->len < doc_end) {
            /* Zipf-like: squaring a uniform variate favours the first words */
            double u = (double)(next_rand() % 1000000) / 1e6;
            const char *w = vocab[(size_t)(u * u * (double)nv)];
            size_t wl = strlen(w);
            memcpy(c->data + c->len, w, wl);
            c->len += wl;
            uint64_t r = next_rand() % 20;
            const char *sep = r == 0 ? ", " : r == 1 ? ". " : r == 2 ? " - " : " ";
            memcpy(c->data + c->len, sep, strlen(sep));
            c->len += strlen(sep);
        }
    }
    c->doc_off[c->ndocs] = c->len;
}

static int load_file(corpus *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    c->data = malloc((size_t)n + 1);
    c->len = fread(c->data, 1, (size_t)n, f);
    fclose(f);
    size_t lines = 1;
    for (size_t i = 0; i < c->len; i++)
        lines += c->data[i] == '\n';
    c->doc_off = malloc((lines + 2) * sizeof *c->doc_off);
    c->ndocs = 0;
    size_t start = 0;
    for (size_t i = 0; i <= c->len; i++) {
        if (i == c->len || c->data[i] == '\n') {
            if (i > start) c->doc_off[c->ndocs++] = start;
            start = i + 1;
        }
    }
    c->doc_off[c->ndocs] = c->len;
    return 0;
}

typedef struct {
    uint64_t tokens, bytes;
} stats;

static int on_token(const kiln_token *t, void *ctx)
{
    stats *s = ctx;
    s->tokens++;
    s->bytes += t->len + t->position;
    return 0;
}

static const char *only; /* --only NAME: run one analyzer (for profiling) */

static void bench(const char *label, const kiln_analyzer *a, const corpus *c)
{
    if (only && strcmp(only, label)) return;
    stats s = {0, 0};
    size_t bytes = 0;
    for (size_t d = 0; d < c->ndocs; d++)
        bytes += c->doc_off[d + 1] - c->doc_off[d];
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        s.tokens = 0;
        double t0 = kiln__cpu_s();
        for (size_t d = 0; d < c->ndocs; d++) {
            size_t off = c->doc_off[d];
            size_t len = c->doc_off[d + 1] - off;
            /* the last document may have no trailing newline: trim it */
            while (len && c->data[off + len - 1] == '\n')
                len--;
            kiln_analyze(a, c->data + off, len, 0, on_token, &s);
        }
        double t = kiln__cpu_s() - t0;
        if (t < best) best = t;
    }
    double mb = (double)bytes / 1e6;
    printf("  %-22s %8.1f MB/s  %7.2f Mtok/s  %6.2f us/doc (%4.0f B avg)  %.2f us per 0.5 KB\n",
           label, mb / best, (double)s.tokens / best / 1e6, best * 1e6 / (double)c->ndocs,
           (double)bytes / (double)c->ndocs, best * 1e6 / ((double)bytes / 512.0));
}

static void run_all(const char *name, const corpus *c)
{
    printf("%s: %.1f MB, %zu documents\n", name, (double)c->len / 1e6, c->ndocs);
    static const char *const builtin[] = {"standard",   "english", "simple",
                                          "whitespace", "keyword", "stop"};
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        bench(builtin[i], kiln_analyzer_get(NULL, builtin[i]), c);
    json_t *def = json_loads("{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\","
                             "\"asciifolding\",{\"type\":\"snowball\",\"language\":\"English\"}]}",
                             0, NULL);
    kiln_analyzer *a = kiln_analyzer_new_custom(NULL, def, NULL);
    json_decref(def);
    bench("std+fold+snowball", a, c);
    kiln_analyzer_free(a);
}

int main(int argc, char **argv)
{
    size_t mb = 4;
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "--mb")) mb = (size_t)atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--only")) only = argv[i + 1];
    }
    corpus gen;
    gen_corpus(&gen, mb * 1000 * 1000);
    run_all("generated product text", &gen);
    free(gen.data);
    free(gen.doc_off);
    for (; i < argc; i++) {
        corpus c;
        if (load_file(&c, argv[i])) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 1;
        }
        run_all(argv[i], &c);
        free(c.data);
        free(c.doc_off);
    }
    return 0;
}
