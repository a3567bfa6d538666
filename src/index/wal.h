/* Write-ahead log of one shard: checksummed records appended to generation files
 * (translog-<gen>.log), made durable by group commit.
 *
 * Record layout (little-endian):
 *   u32 payload_len | u32 type | u64 checksum (xxh3 of type + payload) | payload
 * A record whose header or checksum is wrong ends the log: on open, the file is truncated there
 * (a torn tail from a crash mid-write), and everything before it is replayed. */
#ifndef KILN_WAL_H
#define KILN_WAL_H

#include "core/error.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kiln_wal kiln_wal;

/* Called for each intact record during open, in order. Return non-zero to abort the open. */
typedef int (*kiln_wal_replay_fn)(uint32_t type, const void *payload, size_t len, void *ctx,
                                  kiln_error *err);

/* Opens (creating if needed) the log in dir, replaying every generation >= min_gen in order. */
kiln_wal *kiln_wal_open(const char *dir, uint64_t min_gen, kiln_wal_replay_fn fn, void *ctx,
                        kiln_error *err);
/* Appends one record (written, not yet synced). Returns the LSN to pass to kiln_wal_sync, or
 * 0 and fills err on an I/O error; after one, the log refuses every write (fail loudly). */
uint64_t kiln_wal_append(kiln_wal *w, uint32_t type, const void *payload, size_t len,
                         kiln_error *err);
/* The same with the payload in parts (at most KILN_WAL_MAX_PARTS), written as one record
 * without first copying them together. */
#define KILN_WAL_MAX_PARTS 4
struct iovec;
uint64_t kiln_wal_appendv(kiln_wal *w, uint32_t type, const struct iovec *parts, int nparts,
                          kiln_error *err);
/* Blocks until everything up to lsn is on disk. Concurrent callers share one fdatasync. */
int kiln_wal_sync(kiln_wal *w, uint64_t lsn, kiln_error *err);
/* Starts a new generation file and returns its number; records before it can be dropped with
 * kiln_wal_drop_before once their contents are durable elsewhere. Caller serialises appends. */
int kiln_wal_roll(kiln_wal *w, uint64_t *new_gen, kiln_error *err);
void kiln_wal_drop_before(kiln_wal *w, uint64_t gen);
uint64_t kiln_wal_generation(const kiln_wal *w);
uint64_t kiln_wal_size(const kiln_wal *w); /* bytes in the current generation */
void kiln_wal_close(kiln_wal *w);

#endif
