/* Base64 (RFC 4648, standard alphabet; whitespace ignored, padding optional) decoding. */
#ifndef KILN_BASE64_H
#define KILN_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Decodes s[0..len) into a malloc'd buffer (*out, *out_len). Returns 0, or -1 on a character
 * outside the alphabet or a malformed tail (nothing allocated). */
int kiln_base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len);

#endif
