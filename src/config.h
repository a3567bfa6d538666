/* Server configuration: defaults, then a `key: value` file (--config), then flags. */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include "core/error.h"

#include <stddef.h>

#define KILN_VERSION "0.1.0"

typedef struct kiln_config {
    char bind[256];       /* bind */
    int port;             /* port; 0 picks a free one */
    char data[4096];      /* data */
    char log_level[16];   /* log-level: debug|info|warn|error */
    size_t max_body;      /* max-body: bytes, or with a unit: 100mb, 512kb, 1gb */
    int threads;          /* a pool of N HTTP threads; 0 or 1: a thread per connection */
    char port_file[4096]; /* port-file: written with the bound port once listening */
    char api_key[256];    /* api-key: when set, writes to /_udf need it ("" = open) */
} kiln_config;

typedef enum { KILN_CMD_SERVE, KILN_CMD_HELP, KILN_CMD_VERSION } kiln_command;

void kiln_config_defaults(kiln_config *c);
/* Sets one key ("max-body", "max_body" and "http.max_content_length" alike). */
int kiln_config_set(kiln_config *c, const char *key, const char *value, kiln_error *err);
/* Reads `key: value` lines; '#' starts a comment; values may be quoted. */
int kiln_config_load(kiln_config *c, const char *path, kiln_error *err);
/* Applies argv over c: --config FILE first, then every flag. Returns the command or a
 * negative status with err filled. */
int kiln_config_args(kiln_config *c, int argc, char **argv, kiln_error *err);
/* Parses "1048576", "100mb", "512KB", "1gb" (binary units). -1 on error. */
long long kiln_config_parse_size(const char *s);

extern const char kiln_config_usage[];

#endif
