/* The mapping dynamic mapping gives a synthetic product (bench/datasets/products.js): strings as
 * text with a keyword multi-field (ignore_above 256), as Elasticsearch maps them. For in-process
 * benches that build a search index without the server. */
#ifndef KILN_BENCH_PRODUCTS_H
#define KILN_BENCH_PRODUCTS_H

#define KILN__DYN_TEXT                                                                             \
    "{\"type\":\"text\",\"fields\":{\"keyword\":{\"type\":\"keyword\",\"ignore_above\":256}}}"

static const char *const kiln__products_mapping =
    "{\"properties\":{\"name\":" KILN__DYN_TEXT ",\"description\":" KILN__DYN_TEXT
    ",\"category\":" KILN__DYN_TEXT ",\"brand\":" KILN__DYN_TEXT ",\"tags\":" KILN__DYN_TEXT
    ",\"price\":{\"type\":\"float\"},\"rating\":{\"type\":\"float\"},\"stock\":{\"type\":"
    "\"long\"},\"created_at\":{\"type\":\"date\"},\"attributes\":{\"properties\":{\"color\":"
    KILN__DYN_TEXT ",\"size\":" KILN__DYN_TEXT "}}}}";

#endif
