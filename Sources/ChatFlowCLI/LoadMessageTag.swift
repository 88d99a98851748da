/// Ties a delivered `message.created` frame to the post that caused it: each post's content
/// starts with `lt:<run>:<sequence>`, so a frame can be matched by scanning its bytes, even
/// when it arrives before the POST's response, and without decoding its JSON.
struct LoadMessageTag: Sendable {
    let run: String
    private let prefix: [UInt8]

    init(run: String) {
        self.run = run
        prefix = Array("lt:\(run):".utf8)
    }

    /// The content of post `sequence`, padded with `x` to about `bytes` bytes. Only
    /// characters that JSON never escapes, so it can go into a body as is.
    func content(_ sequence: Int, bytes: Int) -> String {
        let tag = "lt:\(run):\(sequence)"
        return bytes > tag.utf8.count + 1 ? tag + " " + String(repeating: "x", count: bytes - tag.utf8.count - 1) : tag
    }

    /// The sequence number in a frame, if it carries this run's tag.
    func sequence(in bytes: UnsafeRawBufferPointer) -> Int? {
        let count = prefix.count
        guard bytes.count > count, let first = prefix.first else { return nil }
        var index = 0
        let last = bytes.count - count
        while index <= last {
            if bytes[index] == first {
                var matched = 1
                while matched < count && bytes[index + matched] == prefix[matched] { matched += 1 }
                if matched == count {
                    var cursor = index + count
                    var value = 0
                    var digits = 0
                    while cursor < bytes.count, bytes[cursor] >= 0x30, bytes[cursor] <= 0x39, digits < 18 {
                        value = value * 10 + Int(bytes[cursor] - 0x30)
                        cursor += 1
                        digits += 1
                    }
                    return digits > 0 ? value : nil
                }
            }
            index += 1
        }
        return nil
    }
}
