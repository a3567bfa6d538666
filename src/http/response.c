/* Reply side: JSON/text bodies, Elasticsearch error bodies, and the ?pretty re-indenter. */
#include "http/http_int.h"

#include <stdarg.h>
#include <string.h>

void kiln_resp_json(kiln_resp *resp, int status, const char *json)
{
    resp->status = status;
    resp->content_type = NULL;
    kiln_buf_reset(&resp->body);
    kiln_buf_puts(&resp->body, json);
}

void kiln_resp_text(kiln_resp *resp, int status, const char *text)
{
    resp->status = status;
    resp->content_type = "text/plain; charset=UTF-8";
    kiln_buf_reset(&resp->body);
    kiln_buf_puts(&resp->body, text);
}

/* The fields of one cause, shared by root_cause[0] and the top-level error object. */
static void kiln__error_fields(kiln_buf *b, const kiln_error *err)
{
    kiln_buf_puts(b, "\"type\":");
    kiln_buf_json_cstr(b, kiln_code_type(err->code));
    kiln_buf_puts(b, ",\"reason\":");
    kiln_buf_json_cstr(b, err->reason);
    if (err->index[0]) {
        if (err->code == KILN_E_INDEX_NOT_FOUND) {
            kiln_buf_puts(b, ",\"resource.type\":\"index_or_alias\",\"resource.id\":");
            kiln_buf_json_cstr(b, err->index);
        }
        kiln_buf_puts(b, ",\"index_uuid\":\"_na_\",\"index\":");
        kiln_buf_json_cstr(b, err->index);
    }
}

void kiln_resp_error(kiln_resp *resp, const kiln_error *err)
{
    int status = kiln_code_status(err->code);
    kiln_buf *b = &resp->body;
    kiln_buf_reset(b);
    kiln_buf_puts(b, "{\"error\":{\"root_cause\":[{");
    kiln__error_fields(b, err);
    kiln_buf_puts(b, "}],");
    kiln__error_fields(b, err);
    kiln_buf_printf(b, "},\"status\":%d}", status);
    resp->status = status;
    resp->content_type = NULL;
}

int kiln_resp_fail(kiln_resp *resp, kiln_code code, const char *fmt, ...)
{
    kiln_error err;
    kiln_error_clear(&err);
    va_list ap;
    va_start(ap, fmt);
    kiln_failv(&err, code, fmt, ap);
    va_end(ap);
    kiln_resp_error(resp, &err);
    return 0;
}

static void kiln__indent(kiln_buf *out, int depth)
{
    kiln_buf_putc(out, '\n');
    for (int i = 0; i < depth; i++)
        kiln_buf_puts(out, "  ");
}

static int kiln__ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void kiln__json_pretty(kiln_buf *out, const char *s, size_t n)
{
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"')
                j += s[j] == '\\' ? 2 : 1;
            if (j >= n) j = n - 1;
            kiln_buf_append(out, s + i, j - i + 1);
            i = j;
        } else if (kiln__ws(c)) {
            continue;
        } else if (c == '{' || c == '[') {
            size_t j = i + 1;
            while (j < n && kiln__ws(s[j]))
                j++;
            if (j < n && s[j] == (c == '{' ? '}' : ']')) {
                kiln_buf_puts(out, c == '{' ? "{ }" : "[ ]"); /* Jackson's empty form */
                i = j;
                continue;
            }
            kiln_buf_putc(out, c);
            kiln__indent(out, ++depth);
        } else if (c == '}' || c == ']') {
            kiln__indent(out, depth > 0 ? --depth : 0);
            kiln_buf_putc(out, c);
        } else if (c == ',') {
            kiln_buf_putc(out, ',');
            kiln__indent(out, depth);
        } else if (c == ':') {
            kiln_buf_puts(out, " : "); /* ES (Jackson) puts spaces on both sides */
        } else {
            kiln_buf_putc(out, c);
        }
    }
    kiln_buf_putc(out, '\n');
}
