/* Kiln error table and the error struct filled at the deepest point that knows the reason.
 * Every failure a user can see maps to one row: an Elasticsearch error type and HTTP status. */
#ifndef KILN_ERROR_H
#define KILN_ERROR_H

#include <stdarg.h>

/* X(name, es_type, http_status) */
#define KILN_ERRORS(X)                                                                             \
    X(PARSE, "parse_exception", 400)                                                              \
    X(PARSING, "parsing_exception", 400)                                                          \
    X(X_CONTENT_PARSE, "x_content_parse_exception", 400)                                          \
    X(QUERY_SHARD, "query_shard_exception", 400)                                                  \
    X(JSON_PARSE, "json_parse_exception", 400)                                                    \
    X(ILLEGAL_ARGUMENT, "illegal_argument_exception", 400)                                        \
    X(ACTION_VALIDATION, "action_request_validation_exception", 400)                              \
    X(MAPPER_PARSING, "mapper_parsing_exception", 400)                                            \
    X(INVALID_INDEX_NAME, "invalid_index_name_exception", 400)                                    \
    X(INDEX_EXISTS, "resource_already_exists_exception", 400)                                     \
    X(INDEX_NOT_FOUND, "index_not_found_exception", 404)                                          \
    X(DOC_MISSING, "document_missing_exception", 404)                                             \
    X(NOT_FOUND, "resource_not_found_exception", 404)                                             \
    X(METHOD_NOT_ALLOWED, "method_not_allowed_exception", 405)                                    \
    X(VERSION_CONFLICT, "version_conflict_engine_exception", 409)                                 \
    X(TOO_LARGE, "content_too_long_exception", 413)                                               \
    X(UNSUPPORTED_MEDIA, "media_type_header_exception", 415)                                      \
    X(SECURITY, "security_exception", 401)                                                        \
    X(CLUSTER_BLOCK, "cluster_block_exception", 403)                                              \
    X(IO, "io_exception", 500)                                                                    \
    X(INTERNAL, "internal_server_error", 500)                                                     \
    X(UNAVAILABLE, "unavailable_shards_exception", 503)

typedef enum {
    KILN_OK = 0,
#define KILN_ERR_ENUM(name, type, status) KILN_E_##name,
    KILN_ERRORS(KILN_ERR_ENUM)
#undef KILN_ERR_ENUM
        KILN_E__COUNT
} kiln_code;

typedef struct kiln_error {
    kiln_code code;
    char reason[1024];
    char index[256]; /* optional: the index the error is about ("" if none) */
} kiln_error;

/* Fills err (may be NULL) and returns -code, so callers can `return kiln_fail(...)`. */
int kiln_fail(kiln_error *err, kiln_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int kiln_failv(kiln_error *err, kiln_code code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void kiln_error_clear(kiln_error *err);
void kiln_error_set_index(kiln_error *err, const char *index);

const char *kiln_code_type(kiln_code code); /* ES error type, static string */
int kiln_code_status(kiln_code code);       /* HTTP status */

#endif
