/* Hashes: routing (Murmur3 as Elasticsearch computes it) and checksums (xxHash). */
#ifndef KILN_HASH_H
#define KILN_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Elasticsearch's routing hash: Murmur3_x86_32, seed 0, over the UTF-16LE code units of the
 * routing string (Murmur3HashFunction.hash(String)). s is UTF-8. */
int32_t kiln_routing_hash(const char *s, size_t len);
/* Shard for a routing value: floorMod(hash, shards). */
unsigned kiln_routing_shard(const char *routing, size_t len, unsigned shards);
uint64_t kiln_checksum(const void *data, size_t len);
/* kiln_checksum of the pieces' concatenation. */
uint64_t kiln_checksum_v(const struct iovec *iov, size_t n);
uint64_t kiln_hash_bytes(const void *data, size_t len);

#endif
