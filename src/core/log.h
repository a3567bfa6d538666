/* Structured log lines: `2026-11-25T23:30:00.123Z INFO  [component] message`, to stderr. */
#ifndef KILN_LOG_H
#define KILN_LOG_H

typedef enum { KILN_LOG_DEBUG, KILN_LOG_INFO, KILN_LOG_WARN, KILN_LOG_ERROR } kiln_log_level;

void kiln_log_set_level(kiln_log_level level);
/* Parses "debug|info|warn|error"; returns -1 if unknown. */
int kiln_log_parse_level(const char *name);
void kiln_log(kiln_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define KILN_DEBUG(c, ...) kiln_log(KILN_LOG_DEBUG, c, __VA_ARGS__)
#define KILN_INFO(c, ...) kiln_log(KILN_LOG_INFO, c, __VA_ARGS__)
#define KILN_WARN(c, ...) kiln_log(KILN_LOG_WARN, c, __VA_ARGS__)
#define KILN_ERROR(c, ...) kiln_log(KILN_LOG_ERROR, c, __VA_ARGS__)

#endif
