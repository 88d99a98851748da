import ChatFlowStorage
import Foundation
import Testing
@testable import ChatFlowCore

/// A projection whose table file was damaged on disk is an error, not a shorter projection.
@Suite struct DamagedProjectionTests {
    @Test func aDamagedProjectionIsAnErrorNeverAShorterAnswer() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            for i in 0..<3000 { _ = try await world.post("alice", chat, "lunch at noon number \(i) with words enough to fill blocks") }
            try world.catchUp()
            let family = world.engine.store.family(of: SearchProjection.name)
            try world.engine.store.database.flush([family])
            let tables = try #require(world.engine.store.database.property("rocksdb.sstables", in: family))
            // Lines such as " 12:245871[1 .. 9046]['…' …]": the file number before the colon.
            let numbers = tables.split(separator: "\n").compactMap { line in
                Int(line.drop { $0 == " " }.prefix { $0.isNumber })
            }
            let number = try #require(numbers.first, "no table file of the search projection in: \(tables)")
            _ = world.engine.close()

            // Bytes overwritten in the middle of the file: a data block no longer matches its checksum.
            let path = world.directory.appending("data") + "/" + String(format: "%06d.sst", number)
            let handle = try #require(FileHandle(forUpdatingAtPath: path))
            let size = try handle.seekToEnd()
            try handle.seek(toOffset: size / 2)
            handle.write(Data(repeating: 0x58, count: 64))
            try handle.close()

            try world.reopen()
            // A search meeting the damage fails; none answers with fewer messages than there are.
            for word in ["at", "blocks", "enough", "fill", "lunch", "noon", "number", "to", "with", "words"] {
                var found = 0
                var cursor: String?
                do {
                    repeat {
                        let page = try world.reader.search(in: chat, query: SearchQuery(words: [word]), cursor: cursor, limit: 100)
                        found += page.items.count
                        cursor = page.nextCursor
                    } while cursor != nil
                    #expect(found == 3000, "a search for \(word) found \(found) of 3000 messages")
                } catch is StorageError {
                }
            }
            let error = #expect(throws: StorageError.self) {
                _ = try Verifier(log: world.engine.log, store: world.engine.store).verify(projector: world.engine.projector)
            }
            #expect("\(error.map { "\($0)" } ?? "")".contains("rebuild --projection search"), "\(String(describing: error))")
        }
    }
}
