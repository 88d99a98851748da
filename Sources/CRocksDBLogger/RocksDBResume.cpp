// Resuming a database after a background error: what RocksDB 7.8's C API does not offer,
// beside the logger (RocksDBLogger.cpp).

#include "chatflow_rocksdb_resume.h"

#include <rocksdb/db.h>
#include <rocksdb/version.h>

// The handle's layout below is 7.x's: another major version must be looked at again.
#if ROCKSDB_MAJOR != 7
#error "rocksdb_t's layout was checked against RocksDB 7"
#endif

#include <cstdlib>
#include <cstring>

// As the C API defines it (rocksdb/db/c.cc): the handle wraps the database.
struct rocksdb_t {
    rocksdb::DB *rep;
};

extern "C" void chatflow_rocksdb_resume(rocksdb_t *db, char **errptr) {
    const rocksdb::Status status = db->rep->Resume();
    if (!status.ok()) *errptr = strdup(status.ToString().c_str());
}
