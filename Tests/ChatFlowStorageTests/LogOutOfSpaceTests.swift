import Foundation
import Synchronization
import Testing
@testable import ChatFlowStorage
import ChatFlowTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The log with no disk guard on a small tmpfs that fills up under its writes: RocksDB's
/// own write fails for lack of space, which is the case a guard sampling free space can
/// miss. Mounting needs root (as on the CI machine).
@Suite(.timeLimit(.minutes(2)), .enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
struct LogOutOfSpaceTests {
    /// Small write buffers: RocksDB's write-ahead log preallocates about one, so the disk
    /// runs out after a few hundred appends, and each retry to resume flushes one.
    private var databaseOptions: DatabaseOptions {
        var options = DatabaseOptions()
        options.writeBufferBytes = 1 << 20
        // RocksDB's errors about the full disk are expected here.
        options.diagnostics = DatabaseDiagnostics(minimumLevel: .fatal) { _, _ in }
        return options
    }

    @Test func aWriteThatFindsTheDiskFullIsRefusedAndTheLogTakesWritesOnceThereIsRoom() async throws {
        let dir = TemporaryDirectory("chatflow-log-nospace")
        defer { dir.remove() }
        let mountPoint = dir.appending("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try #require(mount("tmpfs", mountPoint, "tmpfs", 0, "size=32m") == 0, "mount: \(String(cString: strerror(errno)))")
        defer { umount2(mountPoint, Int32(MNT_DETACH)) }
        let path = mountPoint + "/log"
        let waits = WaitingForSpaceNotes()
        var logOptions = ChangeLogOptions()
        logOptions.onWaitingForSpace = { waits.note($0) }
        let log = try RocksDBChangeLog.open(path: path, options: logOptions, databaseOptions: databaseOptions)

        var acknowledged: [ULID] = []
        for n in 0..<10 { acknowledged += try await log.append(payload(n)).ids }

        // Every byte of the disk taken, but what RocksDB preallocated for its log.
        let filler = mountPoint + "/filler"
        fill(filler)

        var refusal: (any Error)?
        var refusedPayload: [UInt8] = []
        for n in 10..<20_000 {
            do {
                acknowledged += try await log.append(payload(n)).ids
            } catch {
                (refusal, refusedPayload) = (error, payload(n))
                break
            }
        }
        let error = try #require(refusal, "20,000 appends of 2 KB fitted on a full 32 MiB disk")
        guard case StorageError.noSpace = error else {
            Issue.record("the refusal was not for lack of space: \(error)")
            return
        }
        #expect(log.isWaitingForSpace)
        #expect(waits.all == [true])
        // Refused again while the disk is full; reads go on and show only the acknowledged.
        await #expect(throws: StorageError.self) { _ = try await log.append(payload(-1)) }
        #expect(try log.read(after: nil, limit: acknowledged.count + 10).map(\.id) == acknowledged)

        // Room again: with no append to carry it, the idle writer resumes the store itself.
        try FileManager.default.removeItem(atPath: filler)
        let resumed = await eventually(timeout: .seconds(20)) { !log.isWaitingForSpace }
        #expect(resumed, "the log did not take writes again after the disk had room")
        #expect(waits.all == [true, false])
        acknowledged += try await log.append(payload(100_000)).ids

        // Everything acknowledged survives a reopening, once and in order, and the refused
        // write is nowhere.
        log.close()
        log.database.close()
        let reopened = try RocksDBChangeLog.open(path: path, databaseOptions: databaseOptions)
        defer { reopened.close(); reopened.database.close() }
        let stored = try reopened.read(after: nil, limit: acknowledged.count + 10)
        #expect(stored.map(\.id) == acknowledged)
        #expect(!stored.contains { $0.payload == refusedPayload })
    }

    private func payload(_ n: Int) -> [UInt8] {
        Array("event-\(n)-".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: n), count: 2048)
    }

    /// Writes to `path` until the disk refuses a single byte more.
    private func fill(_ path: String) {
        let descriptor = open(path, O_WRONLY | O_CREAT, 0o600)
        precondition(descriptor >= 0, "open \(path): \(String(cString: strerror(errno)))")
        for size in [1 << 20, 4096, 1] {
            let chunk = [UInt8](repeating: 0, count: size)
            while chunk.withUnsafeBytes({ write(descriptor, $0.baseAddress, size) }) > 0 {}
        }
        close(descriptor)
    }
}

/// What the log said of waiting for space, in order.
private final class WaitingForSpaceNotes: Sendable {
    private let notes = Mutex<[Bool]>([])
    func note(_ waiting: Bool) { notes.withLock { $0.append(waiting) } }
    var all: [Bool] { notes.withLock { $0 } }
}
