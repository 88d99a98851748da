#ifndef CHATFLOW_ROCKSDB_LOGGER_H
#define CHATFLOW_ROCKSDB_LOGGER_H

#include <rocksdb/c.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Receives one of RocksDB's diagnostic messages: its level (0 debug, 1 info, 2 warn,
/// 3 error, 4 fatal, 5 header) and its text, valid only during the call. Called from
/// RocksDB's own threads.
typedef void (*chatflow_rocksdb_message_handler)(void *context, int level, const char *message);

/// A RocksDB logger that hands every message at `minimum_level` or above to `handler`
/// instead of writing a LOG file. `context` must outlive every database opened with it.
rocksdb_logger_t *chatflow_rocksdb_logger_create(int minimum_level, chatflow_rocksdb_message_handler handler, void *context);

/// Releases the caller's reference; databases opened with the logger keep theirs.
void chatflow_rocksdb_logger_destroy(rocksdb_logger_t *logger);

#ifdef __cplusplus
}
#endif

#endif
