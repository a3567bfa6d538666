/* kiln: configuration, signals, start and stop. Everything else lives in the modules. */
#include "api/api.h"
#include "config.h"
#include "core/log.h"
#include "http/http.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static int kiln__write_port(const char *path, int port)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "%d\n", port);
    return fclose(f);
}

int main(int argc, char **argv)
{
    kiln_config cfg;
    kiln_error err;
    kiln_error_clear(&err);
    kiln_config_defaults(&cfg);
    int cmd = kiln_config_args(&cfg, argc, argv, &err);
    if (cmd < 0) {
        fprintf(stderr, "kiln: %s\n%s", err.reason, kiln_config_usage);
        return 2;
    }
    if (cmd == KILN_CMD_HELP) {
        fputs(kiln_config_usage, stdout);
        return 0;
    }
    if (cmd == KILN_CMD_VERSION) {
        printf("kiln %s (OpenSearch API 2.11.0)\n", KILN_VERSION);
        return 0;
    }
    kiln_log_set_level((kiln_log_level)kiln_log_parse_level(cfg.log_level));

    /* Block the stop signals before any thread starts, so every thread inherits the mask and
     * only sigwait below sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    KILN_INFO("main", "kiln %s starting, data [%s]", KILN_VERSION, cfg.data);
    kiln_api_set_api_key(cfg.api_key);
    if (kiln_api_start(cfg.data, &err) < 0) {
        KILN_ERROR("main", "cannot open data directory [%s]: %s", cfg.data, err.reason);
        return 1;
    }
    size_t nroutes;
    const kiln_route *routes = kiln_api_routes(&nroutes);
    kiln_http_config hc = {
        .bind = cfg.bind, .port = cfg.port, .threads = cfg.threads, .max_body_bytes = cfg.max_body};
    kiln_http_server *srv = kiln_http_start(&hc, routes, nroutes, &err);
    if (!srv) {
        KILN_ERROR("main", "%s", err.reason);
        kiln_api_stop();
        return 1;
    }
    if (cfg.port_file[0] && kiln__write_port(cfg.port_file, kiln_http_port(srv)) != 0)
        KILN_WARN("main", "cannot write port file [%s]", cfg.port_file);
    KILN_INFO("main", "started on http://%s:%d", cfg.bind, kiln_http_port(srv));

    int sig = 0;
    sigwait(&stop, &sig);
    KILN_INFO("main", "%s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    kiln_http_stop(srv); /* in-flight requests finish first */
    kiln_api_stop();     /* then storage makes everything acknowledged durable */
    KILN_INFO("main", "stopped");
    return 0;
}
