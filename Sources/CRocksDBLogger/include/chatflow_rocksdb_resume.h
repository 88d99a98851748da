#ifndef CHATFLOW_ROCKSDB_RESUME_H
#define CHATFLOW_ROCKSDB_RESUME_H

#include <rocksdb/c.h>

#ifdef __cplusplus
extern "C" {
#endif

/// `DB::Resume()`, which RocksDB 7.8's C API lacks: after a write failed, the database takes
/// no writes until it recovers. For lack of space RocksDB recovers by itself, once the disk
/// has a whole write buffer free (64 MiB for the server), and answers Busy meanwhile; this
/// tells when it has (OK, also when nothing failed), and resumes after other errors. Sets
/// `*errptr` (to be released with `rocksdb_free`) when the database still cannot write.
void chatflow_rocksdb_resume(rocksdb_t *db, char **errptr);

#ifdef __cplusplus
}
#endif

#endif
