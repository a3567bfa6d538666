/* Config: defaults, `key: value` file, flags over the file, sizes, bad input. */
#include "config.h"
#include "../test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int args(kiln_config *c, kiln_error *err, int argc, ...)
{
    char *argv[32];
    va_list ap;
    va_start(ap, argc);
    argv[0] = "kiln";
    for (int i = 1; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    kiln_config_defaults(c);
    kiln_error_clear(err);
    return kiln_config_args(c, argc, argv, err);
}

int main(void)
{
    kiln_config c;
    kiln_error err;
    CHECK_INT(args(&c, &err, 1), KILN_CMD_SERVE);
    CHECK_STR(c.bind, "127.0.0.1");
    CHECK_INT(c.port, 9200);
    CHECK_STR(c.data, "./data");
    CHECK_STR(c.log_level, "info");
    CHECK_INT(c.max_body, 100 << 20);
    CHECK_INT(c.threads, 0);

    CHECK_INT(args(&c, &err, 10, "serve", "--bind", "0.0.0.0", "--port=0", "--data", "/d",
                   "--log-level", "debug", "--max-body=1mb"),
              KILN_CMD_SERVE);
    CHECK_STR(c.bind, "0.0.0.0");
    CHECK_INT(c.port, 0);
    CHECK_STR(c.data, "/d");
    CHECK_STR(c.log_level, "debug");
    CHECK_INT(c.max_body, 1 << 20);
    CHECK_INT(args(&c, &err, 4, "--port", "x", "--help"), KILN_CMD_HELP);
    CHECK_INT(args(&c, &err, 2, "--version"), KILN_CMD_VERSION);

    CHECK(args(&c, &err, 3, "--port", "70000") < 0);
    CHECK(strstr(err.reason, "70000") != NULL);
    CHECK(args(&c, &err, 2, "--port") < 0);
    CHECK(args(&c, &err, 3, "--nope", "1") < 0);
    CHECK_STR(err.reason, "unknown setting [nope]");
    CHECK(args(&c, &err, 2, "stray") < 0);
    CHECK(args(&c, &err, 3, "--log-level", "loud") < 0);
    CHECK(args(&c, &err, 3, "--max-body", "12parsecs") < 0);
    CHECK(args(&c, &err, 3, "--threads", "-1") < 0);

    CHECK_INT(kiln_config_parse_size("1024"), 1024);
    CHECK_INT(kiln_config_parse_size("512kb"), 512 * 1024);
    CHECK_INT(kiln_config_parse_size("100MB"), 100LL << 20);
    CHECK_INT(kiln_config_parse_size("2 GiB"), 2LL << 30);
    CHECK_INT(kiln_config_parse_size("7b"), 7);
    CHECK_INT(kiln_config_parse_size("-1"), -1);
    CHECK_INT(kiln_config_parse_size("mb"), -1);
    CHECK_INT(kiln_config_parse_size("99999999999999999999gb"), -1);

    char path[] = "/tmp/kiln-config-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# kiln config\n\nbind: 0.0.0.0\nport: 9300   # comment\ndata: \"/var/lib/kiln #1\"\n"
          "log_level: warn\nmax-body: 2mb\nthreads: 12\n",
          f);
    fclose(f);
    /* Flags override the file wherever they appear, before or after --config. */
    CHECK_INT(args(&c, &err, 6, "--port", "9400", "--config", path, "--threads=3"), KILN_CMD_SERVE);
    CHECK_STR(c.bind, "0.0.0.0");
    CHECK_INT(c.port, 9400);
    CHECK_STR(c.data, "/var/lib/kiln #1");
    CHECK_STR(c.log_level, "warn");
    CHECK_INT(c.max_body, 2 << 20);
    CHECK_INT(c.threads, 3);

    f = fopen(path, "w");
    fputs("port: 1\nthis line is wrong\n", f);
    fclose(f);
    CHECK(args(&c, &err, 3, "--config", path) < 0);
    CHECK(strstr(err.reason, ":2: expected `key: value`") != NULL);
    f = fopen(path, "w");
    fputs("colour: blue\n", f);
    fclose(f);
    CHECK(args(&c, &err, 3, "--config", path) < 0);
    CHECK(strstr(err.reason, ":1: unknown setting [colour]") != NULL);
    unlink(path);
    CHECK(args(&c, &err, 3, "--config", path) < 0);
    CHECK(strstr(err.reason, "cannot open config file") != NULL);
    TEST_DONE();
}
