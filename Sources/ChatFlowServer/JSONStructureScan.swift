import Foundation

/// Finds what Foundation's JSON parser lets through but a JSON text must not hold, in one
/// pass over a text the parser accepted:
/// - a name an object holds twice. Parsers disagree on which of two same-named fields
///   counts (Foundation's takes the first, many others the last), so a body a proxy or
///   another service reads one way would be acted on another way here (RFC 8259 §4: names
///   "SHOULD be unique");
/// - a comma before `}` or `]`, which the parser accepts and RFC 8259's grammar does not.
enum JSONStructureScan {
    enum Finding: Equatable {
        case repeatedName(String)
        case trailingComma
    }

    /// The first finding in `json`, which must be valid JSON in UTF-8 as far as
    /// `JSONSerialization` judges (the scan does not check the rest, and reads other input
    /// to no purpose, never past its end). Names are compared as the decoder matches
    /// fields: after their escapes are read, and as Swift compares strings (canonical
    /// equivalence), so `"a"` and `"\u0061"` are one name, and so are a precomposed and a
    /// decomposed `é`.
    static func firstFinding(in json: Data) -> Finding? {
        json.withUnsafeBytes { raw -> Finding? in
            let bytes = raw.bindMemory(to: UInt8.self)
            // One entry per open object or array: the names seen so far (nil: an array),
            // and whether the next string there is a name.
            var open: [(names: Set<String>?, nameNext: Bool)] = []
            // Whether the last byte outside strings and whitespace was a comma.
            var afterComma = false
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                    index += 1
                    continue
                case UInt8(ascii: "{"):
                    open.append(([], true))
                case UInt8(ascii: "["):
                    open.append((nil, false))
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if afterComma { return .trailingComma }
                    // Valid JSON never closes more than it opened; other input ends the scan
                    // rather than the process.
                    guard !open.isEmpty else { return nil }
                    open.removeLast()
                case UInt8(ascii: ","):
                    if open.last?.names != nil { open[open.count - 1].nameNext = true }
                case UInt8(ascii: ":"):
                    guard !open.isEmpty else { return nil }
                    open[open.count - 1].nameNext = false
                case UInt8(ascii: "\""):
                    let start = index
                    var escaped = false
                    index += 1
                    while index < bytes.count && bytes[index] != UInt8(ascii: "\"") {
                        if bytes[index] == UInt8(ascii: "\\") {
                            escaped = true
                            index += 1
                        }
                        index += 1
                    }
                    guard let top = open.last, top.names != nil, top.nameNext else { break }
                    let quoted = UnsafeBufferPointer(rebasing: bytes[start...Swift.min(index, bytes.count - 1)])
                    guard let name = escaped ? unescaped(Data(quoted)) : String(decoding: quoted.dropFirst().dropLast(), as: UTF8.self) else { break }
                    if open[open.count - 1].names!.insert(name).inserted == false { return .repeatedName(name) }
                default:
                    break
                }
                afterComma = byte == UInt8(ascii: ",")
                index += 1
            }
            return nil
        }
    }

    private static func unescaped(_ quoted: Data) -> String? {
        (try? JSONSerialization.jsonObject(with: quoted, options: .fragmentsAllowed)) as? String
    }
}
