/* The REST API: endpoint handlers and the route table the HTTP server serves. */
#ifndef KILN_API_H
#define KILN_API_H

#include "core/error.h"
#include "http/http.h"

#include <stddef.h>

/* Opens (or creates) the data directory and recovers every index. 0 or negative + err. */
int kiln_api_start(const char *data_dir, kiln_error *err);
/* The route table; static, valid until kiln_api_stop. */
const kiln_route *kiln_api_routes(size_t *n);
/* Protects writes to /_udf with an API key ("" or NULL: open). Call before kiln_api_start. */
void kiln_api_set_api_key(const char *key);
/* Makes everything acknowledged durable and closes the storage. */
void kiln_api_stop(void);

#endif
