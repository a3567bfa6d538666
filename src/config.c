#include "config.h"

#include "core/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char kiln_config_usage[] =
    "usage: kiln [serve] [options]\n"
    "\n"
    "  --bind ADDR        address to listen on (default 127.0.0.1)\n"
    "  --port N           port (default 9200; 0 picks a free port)\n"
    "  --data DIR         data directory (default ./data)\n"
    "  --log-level LEVEL  debug, info, warn or error (default info)\n"
    "  --config FILE      read `key: value` lines (same keys as the flags); flags win\n"
    "  --max-body BYTES   largest request body, e.g. 104857600 or 100mb (default 100mb)\n"
    "  --threads N        HTTP threads: a pool of N shared by connections (default: one\n"
    "                     thread per connection)\n"
    "  --port-file FILE   write the bound port to FILE once listening\n"
    "  --api-key KEY      require `Authorization: ApiKey KEY` for writes to /_udf\n"
    "  --help, --version\n";

void kiln_config_defaults(kiln_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->bind, sizeof c->bind, "127.0.0.1");
    c->port = 9200;
    snprintf(c->data, sizeof c->data, "./data");
    snprintf(c->log_level, sizeof c->log_level, "info");
    c->max_body = (size_t)100 << 20;
}

long long kiln_config_parse_size(const char *s)
{
    errno = 0;
    char *end;
    if (!isdigit((unsigned char)*s)) return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return -1;
    while (*end == ' ')
        end++;
    static const struct {
        const char *unit;
        int shift;
    } units[] = {{"", 0},    {"b", 0},    {"k", 10}, {"kb", 10}, {"kib", 10}, {"m", 20},
                 {"mb", 20}, {"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].unit) != 0) continue;
        if (v > (1ULL << 62) >> units[i].shift) return -1;
        return (long long)(v << units[i].shift);
    }
    return -1;
}

static int kiln__parse_int(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) return -1;
    *out = n;
    return 0;
}

static int kiln__copy(char *dst, size_t cap, const char *key, const char *v, kiln_error *err)
{
    if (strlen(v) >= cap) return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "%s is too long", key);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

int kiln_config_set(kiln_config *c, const char *key, const char *value, kiln_error *err)
{
    char k[64];
    size_t n = strlen(key);
    if (n >= sizeof k) goto unknown;
    for (size_t i = 0; i <= n; i++)
        k[i] = key[i] == '_' ? '-' : key[i];
    long num;
    if (!strcmp(k, "bind") || !strcmp(k, "network.host"))
        return kiln__copy(c->bind, sizeof c->bind, "bind", value, err);
    if (!strcmp(k, "data") || !strcmp(k, "path.data"))
        return kiln__copy(c->data, sizeof c->data, "data", value, err);
    if (!strcmp(k, "port-file"))
        return kiln__copy(c->port_file, sizeof c->port_file, k, value, err);
    if (!strcmp(k, "port") || !strcmp(k, "http.port")) {
        if (kiln__parse_int(value, 0, 65535, &num) < 0)
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "port [%s] is not in 0..65535", value);
        c->port = (int)num;
        return 0;
    }
    if (!strcmp(k, "threads")) {
        if (kiln__parse_int(value, 0, 4096, &num) < 0)
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "threads [%s] is not in 0..4096", value);
        c->threads = (int)num;
        return 0;
    }
    if (!strcmp(k, "log-level")) {
        if (kiln_log_parse_level(value) < 0)
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "log level [%s] is not one of debug, info, warn, error", value);
        return kiln__copy(c->log_level, sizeof c->log_level, k, value, err);
    }
    if (!strcmp(k, "max-body") || !strcmp(k, "http.max-content-length")) {
        long long sz = kiln_config_parse_size(value);
        if (sz <= 0)
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "max-body [%s] is not a size such as 104857600 or 100mb", value);
        c->max_body = (size_t)sz;
        return 0;
    }
    if (!strcmp(k, "api-key")) return kiln__copy(c->api_key, sizeof c->api_key, k, value, err);
unknown:
    return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "unknown setting [%s]", key);
}

static char *kiln__trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

int kiln_config_load(kiln_config *c, const char *path, kiln_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return kiln_fail(err, KILN_E_IO, "cannot open config file [%s]: %s", path, strerror(errno));
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = kiln__trim(line);
        if (!*s || *s == '#') continue;
        char *colon = strchr(s, ':');
        if (!colon) {
            rc = kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "%s:%d: expected `key: value`", path,
                           lineno);
            goto out;
        }
        *colon = 0;
        char *key = kiln__trim(s), *val = kiln__trim(colon + 1);
        size_t vn = strlen(val);
        if (vn >= 2 && (val[0] == '"' || val[0] == '\'') && val[vn - 1] == val[0]) {
            val[vn - 1] = 0;
            val++;
        } else {
            char *hash = strstr(val, " #"); /* trailing comment on an unquoted value */
            if (hash) *hash = 0, val = kiln__trim(val);
        }
        if ((rc = kiln_config_set(c, key, val, err)) < 0) {
            if (err) {
                char why[sizeof err->reason];
                snprintf(why, sizeof why, "%s", err->reason);
                kiln_fail(err, err->code, "%s:%d: %s", path, lineno, why);
            }
            goto out;
        }
    }
out:
    fclose(f);
    return rc;
}

/* "--name=value" or "--name value"; *val is NULL when the flag takes none. */
static int kiln__flag(int argc, char **argv, int *i, const char **name, const char **val, char *buf,
                      size_t cap, kiln_error *err)
{
    const char *a = argv[*i] + 2;
    const char *eq = strchr(a, '=');
    if (eq) {
        size_t n = (size_t)(eq - a);
        if (n >= cap) return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "bad flag [%s]", argv[*i]);
        memcpy(buf, a, n);
        buf[n] = 0;
        *name = buf;
        *val = eq + 1;
        return 0;
    }
    *name = a;
    if (*i + 1 >= argc)
        return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "flag [--%s] needs a value", a);
    *val = argv[++*i];
    return 0;
}

int kiln_config_args(kiln_config *c, int argc, char **argv, kiln_error *err)
{
    char buf[64];
    const char *name, *val;
    int rc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return KILN_CMD_HELP;
        if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) return KILN_CMD_VERSION;
    }
    /* The file first, so that flags override it wherever they appear. */
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0) continue;
        if ((rc = kiln__flag(argc, argv, &i, &name, &val, buf, sizeof buf, err)) < 0) return rc;
        if (!strcmp(name, "config") && (rc = kiln_config_load(c, val, err)) < 0) return rc;
    }
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0) {
            if (i == 1 && !strcmp(argv[i], "serve")) continue;
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "unexpected argument [%s]", argv[i]);
        }
        if ((rc = kiln__flag(argc, argv, &i, &name, &val, buf, sizeof buf, err)) < 0) return rc;
        if (strcmp(name, "config") == 0) continue;
        if ((rc = kiln_config_set(c, name, val, err)) < 0) return rc;
    }
    return KILN_CMD_SERVE;
}
