#include "core/base64.h"
#include "core/buf.h"

#include <stdlib.h>

int kiln_base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
    static int8_t map[256];
    static int ready;
    if (!ready) {
        for (int i = 0; i < 256; i++) map[i] = -1;
        const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < 64; i++) map[(unsigned char)a[i]] = (int8_t)i;
        map['-'] = 62; /* URL-safe alphabet too */
        map['_'] = 63;
        ready = 1;
    }
    uint8_t *buf = kiln_xmalloc(len / 4 * 3 + 3);
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad || map[c] < 0) goto bad; /* data after padding, or not base64 */
        acc = acc << 6 | (uint32_t)map[c];
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits >= 6 || pad > 2) goto bad; /* a lone 6-bit group cannot end a valid encoding */
    *out = buf;
    *out_len = n;
    return 0;
bad:
    free(buf);
    return -1;
}
