import Foundation
import Testing
@testable import ChatFlowServer

@Suite struct JSONStructureScanTests {
    @Test(arguments: [
        (#"{"a":1,"a":2}"#, "a"),
        (#"{"a":1,"b":{"c":1,"c":[1]}}"#, "c"),
        (#"{"a":1,"\u0061":2}"#, "a"),
        (#"[{"x":1},{"y":1,"y":2}]"#, "y"),
        (#"{"é":1,"\u00e9":2}"#, "é"),
        (#" { "a" : 1 , "a" : 2 } "#, "a"),
    ])
    func repeatedNamesAreFound(json: String, name: String) {
        #expect(JSONStructureScan.firstFinding(in: Data(json.utf8)) == .repeatedName(name), "\(json)")
    }

    /// Foundation's parser accepts a comma before a closing bracket or brace; the grammar
    /// of RFC 8259 does not.
    @Test(arguments: [
        #"{"a":1,}"#,
        #"[1,]"#,
        #"{"a":[1,2, ]}"#,
        "{\"a\":{\"b\":true,\n\t\r }}",
        #"[{"a":"x,"},]"#,
    ])
    func trailingCommasAreFound(json: String) {
        #expect((try? JSONSerialization.jsonObject(with: Data(json.utf8))) != nil, "the parser should accept \(json)")
        #expect(JSONStructureScan.firstFinding(in: Data(json.utf8)) == .trailingComma, "\(json)")
    }

    /// Same names in different objects, names inside string values, values that look like
    /// names, and commas inside strings are not findings.
    @Test(arguments: [
        #"{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}"#,
        #"{"a":"\"a\": 1, \"a\": 2","b":"{\"b\":1}"}"#,
        #"{"a":"b","b":"a","list":["a","a"]}"#,
        #"{"a\\":1,"a":2,"a\"":3}"#,
        #"{"a":",}","b":[",]"]}"#,
        #"{"a\",":1}"#,
        #"{}"#,
        #"[]"#,
        #""a""#,
    ])
    func validTextsHaveNone(json: String) {
        #expect(JSONStructureScan.firstFinding(in: Data(json.utf8)) == nil, "\(json)")
    }
}
