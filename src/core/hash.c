#include "core/hash.h"

#include <stdlib.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

static uint32_t kiln__rotl(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static uint32_t kiln__murmur3_32(const uint8_t *data, size_t len)
{
    const uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
    uint32_t h = 0;
    size_t nblocks = len / 4;
    for (size_t i = 0; i < nblocks; i++) {
        const uint8_t *p = data + i * 4;
        uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        k *= c1;
        k = kiln__rotl(k, 15);
        k *= c2;
        h ^= k;
        h = kiln__rotl(h, 13);
        h = h * 5 + 0xe6546b64;
    }
    const uint8_t *tail = data + nblocks * 4;
    uint32_t k = 0;
    switch (len & 3) {
    case 3: k ^= (uint32_t)tail[2] << 16; /* fallthrough */
    case 2: k ^= (uint32_t)tail[1] << 8;  /* fallthrough */
    case 1:
        k ^= tail[0];
        k *= c1;
        k = kiln__rotl(k, 15);
        k *= c2;
        h ^= k;
    }
    h ^= (uint32_t)len;
    h ^= h >> 16;
    h *= 0x85ebca6b;
    h ^= h >> 13;
    h *= 0xc2b2ae35;
    h ^= h >> 16;
    return h;
}

/* Decodes one UTF-8 sequence; invalid bytes count as U+FFFD, as Java's decoder does. */
static uint32_t kiln__utf8_next(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char c = s[*i];
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0 || *i + (size_t)n >= len + (n == 0)) {
        (*i)++;
        return n == 0 ? c : 0xFFFD;
    }
    uint32_t cp = n == 0 ? c : c & (0x3F >> n);
    for (int k = 1; k <= n; k++) {
        if ((s[*i + (size_t)k] & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = cp << 6 | (s[*i + (size_t)k] & 0x3F);
    }
    *i += (size_t)n + 1;
    return cp;
}

int32_t kiln_routing_hash(const char *s, size_t len)
{
    uint8_t small[512];
    uint8_t *u16 = small;
    size_t cap = sizeof small, n = 0;
    uint8_t *heap = NULL;
    if (len * 4 > cap) {
        heap = malloc(len * 4);
        if (!heap) return 0;
        u16 = heap;
    }
    for (size_t i = 0; i < len;) {
        uint32_t cp = kiln__utf8_next((const unsigned char *)s, len, &i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            uint16_t hi = (uint16_t)(0xD800 + (cp >> 10)), lo = (uint16_t)(0xDC00 + (cp & 0x3FF));
            u16[n++] = hi & 0xFF, u16[n++] = hi >> 8;
            u16[n++] = lo & 0xFF, u16[n++] = lo >> 8;
        } else {
            u16[n++] = cp & 0xFF, u16[n++] = (uint8_t)(cp >> 8);
        }
    }
    uint32_t h = kiln__murmur3_32(u16, n);
    if (heap) free(heap);
    return (int32_t)h;
}

unsigned kiln_routing_shard(const char *routing, size_t len, unsigned shards)
{
    int64_t h = kiln_routing_hash(routing, len);
    int64_t m = h % (int64_t)shards;
    return (unsigned)(m < 0 ? m + shards : m);
}

uint64_t kiln_checksum(const void *data, size_t len)
{
    return XXH3_64bits(data, len);
}

uint64_t kiln_checksum_v(const struct iovec *iov, size_t n)
{
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    for (size_t i = 0; i < n; i++)
        XXH3_64bits_update(&st, iov[i].iov_base, iov[i].iov_len);
    return XXH3_64bits_digest(&st);
}

uint64_t kiln_hash_bytes(const void *data, size_t len)
{
    return XXH3_64bits(data, len);
}
