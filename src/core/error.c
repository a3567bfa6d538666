#include "core/error.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *type;
    int status;
} kiln__errors[KILN_E__COUNT] = {
    [KILN_OK] = {"ok", 200},
#define KILN_ERR_ROW(name, type, status) [KILN_E_##name] = {type, status},
    KILN_ERRORS(KILN_ERR_ROW)
#undef KILN_ERR_ROW
};

int kiln_failv(kiln_error *err, kiln_code code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    }
    return -(int)code;
}

int kiln_fail(kiln_error *err, kiln_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = kiln_failv(err, code, fmt, ap);
    va_end(ap);
    return rc;
}

void kiln_error_clear(kiln_error *err)
{
    err->code = KILN_OK;
    err->reason[0] = 0;
    err->index[0] = 0;
}

void kiln_error_set_index(kiln_error *err, const char *index)
{
    if (err) snprintf(err->index, sizeof err->index, "%s", index);
}

const char *kiln_code_type(kiln_code code)
{
    return (unsigned)code < KILN_E__COUNT ? kiln__errors[code].type : "exception";
}

int kiln_code_status(kiln_code code)
{
    return (unsigned)code < KILN_E__COUNT ? kiln__errors[code].status : 500;
}
