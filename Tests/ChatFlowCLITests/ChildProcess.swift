import Foundation
import Synchronization

/// The `chatflow` binary under test, started as a child process whose standard output is
/// collected line by line on a background thread.
final class ChildProcess: Sendable {
    private let process: Process
    private let output = Mutex<[String]>([])
    private let finishedReading = DispatchSemaphore(value: 0)

    /// The built `chatflow` executable: `CHATFLOW_BINARY`, or the debug build next to the package.
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["CHATFLOW_BINARY"] { return path }
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        return root.appendingPathComponent(".build/debug/chatflow").path
    }

    /// Starts the binary (or `executable`); its standard error goes to `errorFile` when
    /// given, else nowhere.
    init(_ arguments: [String], environment: [String: String] = [:], errorFile: String? = nil, executable: String = ChildProcess.binary) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        if let errorFile {
            _ = FileManager.default.createFile(atPath: errorFile, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: errorFile) ?? FileHandle.nullDevice
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    output.withLock { $0.append(line) }
                }
            }
            finishedReading.signal()
        }
    }

    var pid: Int32 { process.processIdentifier }
    var lines: [String] { output.withLock { $0 } }

    /// Waits until `condition` holds for the output so far; false after the deadline.
    func waitForOutput(timeout: Duration = .seconds(30), _ condition: ([String]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if output.withLock({ condition($0) }) { return true }
            if !process.isRunning { return output.withLock { condition($0) } }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return false
    }

    /// SIGKILL, then everything the child wrote before it died. Again later, it only reads.
    func kill() -> [String] {
        // A child already reaped may have left its pid to another process.
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        finishedReading.wait()
        finishedReading.signal()  // leave it signalled for a later call
        return lines
    }

    /// Waits, off the cooperative pool, for the child to exit by itself; its exit status.
    func exitStatus() async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { [self] in
                process.waitUntilExit()
                finishedReading.wait()
                finishedReading.signal()  // leave it signalled for kill() or stop(with:)
                continuation.resume(returning: process.terminationStatus)
            }
        }
    }

    var isRunning: Bool { process.isRunning }

    /// Whether the child, once ended, was ended by a signal rather than exiting.
    var endedBySignal: Bool { !process.isRunning && process.terminationReason == .uncaughtSignal }

    /// Sends `signal` and waits for the exit status.
    func stop(with signal: Int32) -> Int32 {
        Foundation.kill(process.processIdentifier, signal)
        process.waitUntilExit()
        finishedReading.wait()
        finishedReading.signal()  // leave it signalled for a later kill()
        return process.terminationStatus
    }
}
