// RocksDB's C API (7.8) can install a logger but not make one: this makes one that hands
// messages to a callback. Without it RocksDB writes a LOG file in the data directory, and
// on a full disk its next write after a failed one stops the process (the packaged
// library keeps its assertions), and every command that opens a directory in use renames
// the server's LOG away.

#include "chatflow_rocksdb_logger.h"

#include <rocksdb/env.h>

#include <cstdarg>
#include <cstdio>
#include <memory>

// As the C API defines it (rocksdb/db/c.cc): the handle wraps a shared logger.
struct rocksdb_logger_t {
    std::shared_ptr<rocksdb::Logger> rep;
};

namespace {

class CallbackLogger final : public rocksdb::Logger {
public:
    CallbackLogger(rocksdb::InfoLogLevel minimum, chatflow_rocksdb_message_handler handler, void *context)
        : rocksdb::Logger(minimum), handler_(handler), context_(context) {}

    using rocksdb::Logger::Logv;

    void Logv(const char *format, va_list arguments) override {
        Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, arguments);
    }

    void LogHeader(const char *format, va_list arguments) override {
        Logv(rocksdb::InfoLogLevel::HEADER_LEVEL, format, arguments);
    }

    void Logv(const rocksdb::InfoLogLevel level, const char *format, va_list arguments) override {
        // Headers (the options dump at open) count as debug here: RocksDB ranks them above
        // fatal, to keep them in its LOG whatever the level.
        const int rank = level == rocksdb::InfoLogLevel::HEADER_LEVEL ? 0 : static_cast<int>(level);
        if (rank < static_cast<int>(GetInfoLogLevel())) return;
        char message[2048];
        std::vsnprintf(message, sizeof message, format, arguments);
        handler_(context_, static_cast<int>(level), message);
    }

private:
    chatflow_rocksdb_message_handler handler_;
    void *context_;
};

}  // namespace

extern "C" rocksdb_logger_t *chatflow_rocksdb_logger_create(int minimum_level, chatflow_rocksdb_message_handler handler, void *context) {
    auto *logger = new rocksdb_logger_t;
    logger->rep = std::make_shared<CallbackLogger>(static_cast<rocksdb::InfoLogLevel>(minimum_level), handler, context);
    return logger;
}

extern "C" void chatflow_rocksdb_logger_destroy(rocksdb_logger_t *logger) {
    delete logger;
}
