/* HTTP transport: the server, the router and the reply writer. Endpoints live in src/api and
 * know nothing of libmicrohttpd; they see only kiln_req and fill a kiln_resp.
 *
 * Contract:
 *  - A handler runs on a server worker thread and may block (e.g. on a WAL fsync).
 *  - req->body is the complete request body (NUL-terminated copy, len in body_len), already
 *    checked against the configured size limit (the server answers 413 itself).
 *  - Path parameters: patterns like "/{index}/_doc/{id}" capture percent-decoded segments,
 *    read with kiln_req_param(req, "index"); query-string values with kiln_req_query(req, "v").
 *  - The handler sets resp->status and the body (JSON by default) with kiln_resp_json/_text,
 *    or an Elasticsearch error with kiln_resp_error(resp, err). */
#ifndef KILN_HTTP_H
#define KILN_HTTP_H

#include "core/buf.h"
#include "core/error.h"

#include <stddef.h>

typedef enum {
    KILN_GET = 1,
    KILN_PUT = 2,
    KILN_POST = 4,
    KILN_DELETE = 8,
    KILN_HEAD = 16,
} kiln_method;

#define KILN_MAX_PARAMS 8

typedef struct kiln_req {
    kiln_method method;
    const char *path;      /* raw path, without the query string */
    const char *body;      /* NUL-terminated; "" when there is none */
    size_t body_len;
    const char *content_type; /* may be NULL */
    int nparams;
    const char *param_names[KILN_MAX_PARAMS];
    char *param_values[KILN_MAX_PARAMS];
    void *conn;            /* transport's private handle (query string, headers) */
} kiln_req;

typedef struct kiln_resp {
    int status;
    const char *content_type; /* static string; "application/json; charset=UTF-8" by default */
    kiln_buf body;
} kiln_resp;

typedef int (*kiln_handler)(kiln_req *req, kiln_resp *resp);

typedef struct kiln_route {
    unsigned methods;    /* mask of kiln_method */
    const char *pattern; /* "/{index}/_doc/{id}"; literal segments must match exactly */
    kiln_handler handler;
} kiln_route;

/* Path parameter by name, percent-decoded; NULL if absent. Borrowed for the request. */
const char *kiln_req_param(const kiln_req *req, const char *name);
/* Query-string parameter; NULL if absent, "" if present without a value. */
const char *kiln_req_query(const kiln_req *req, const char *name);
/* Query-string boolean as ES reads it: absent → def; "", "true" → 1; "false" → 0; else -1. */
int kiln_req_query_bool(const kiln_req *req, const char *name, int def);
/* A request header; NULL if absent. */
const char *kiln_req_header(const kiln_req *req, const char *name);
/* Adds a header to the reply (e.g. Location); both strings are copied. */
void kiln_req_add_reply_header(kiln_req *req, const char *name, const char *value);

/* A request made in process and handed to another handler (one search of an _msearch): the
 * given body (borrowed), {index} path parameter (may be NULL) and query-string parameters
 * (copied); no headers, and reply headers it sets are dropped. */
kiln_req *kiln_req_sub_new(kiln_method method, const char *body, size_t body_len,
                           const char *index, const char *const *qnames,
                           const char *const *qvalues, int nquery);
void kiln_req_sub_free(kiln_req *req);

void kiln_resp_json(kiln_resp *resp, int status, const char *json); /* copies json */
void kiln_resp_text(kiln_resp *resp, int status, const char *text);
/* Elasticsearch error body: {"error": {"root_cause": [...], "type", "reason", ...}, "status"}. */
void kiln_resp_error(kiln_resp *resp, const kiln_error *err);
/* Shorthand: fill an error and reply with it. Returns 0 (the request was answered). */
int kiln_resp_fail(kiln_resp *resp, kiln_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct kiln_http_config {
    const char *bind;          /* "127.0.0.1" */
    int port;                  /* 9200; 0 picks a free port */
    int threads;               /* worker threads */
    size_t max_body_bytes;     /* http.max_content_length, default 100 MiB */
} kiln_http_config;

typedef struct kiln_http_server kiln_http_server;

/* Starts serving routes (a table that must outlive the server). Returns NULL and fills err if
 * the address cannot be bound. */
kiln_http_server *kiln_http_start(const kiln_http_config *cfg, const kiln_route *routes,
                                  size_t nroutes, kiln_error *err);
int kiln_http_port(const kiln_http_server *s);
/* Stops accepting, lets in-flight requests finish, then frees the server. */
void kiln_http_stop(kiln_http_server *s);

#endif
