import Foundation
import Testing
@testable import ChatFlowServer

@Suite struct DuplicateKeyScanTests {
    @Test(arguments: [
        (#"{"a":1,"a":2}"#, "a"),
        (#"{"a":1,"b":{"c":1,"c":[1]}}"#, "c"),
        (#"{"a":1,"\u0061":2}"#, "a"),
        (#"[{"x":1},{"y":1,"y":2}]"#, "y"),
        (#"{"é":1,"\u00e9":2}"#, "é"),
        (#" { "a" : 1 , "a" : 2 } "#, "a"),
    ])
    func repeatedNamesAreFound(json: String, name: String) {
        #expect(DuplicateKeyScan.firstDuplicate(in: Data(json.utf8)) == name, "\(json)")
    }

    /// Same names in different objects, names inside string values, and values that look
    /// like names are not duplicates.
    @Test(arguments: [
        #"{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}"#,
        #"{"a":"\"a\": 1, \"a\": 2","b":"{\"b\":1}"}"#,
        #"{"a":"b","b":"a","list":["a","a"]}"#,
        #"{"a\\":1,"a":2,"a\"":3}"#,
        #"{}"#,
        #"[]"#,
        #""a""#,
    ])
    func distinctNamesAreNot(json: String) {
        #expect(DuplicateKeyScan.firstDuplicate(in: Data(json.utf8)) == nil, "\(json)")
    }
}
