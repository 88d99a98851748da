import Foundation

/// Server → client frames (SPEC §4), encoded once per event and channel and shared by
/// every connection that receives them.
package enum LiveFrame {
    private struct Event: Encodable {
        let type = "event"
        let channel: String
        let id: String?
        let event: LiveEvent
    }

    private struct Subscribed: Encodable {
        let type = "subscribed"
        let channel: String
        let recovered: Bool
    }

    private struct Unsubscribed: Encodable {
        let type = "unsubscribed"
        let channel: String
    }

    private struct Failure: Encodable {
        let type = "error"
        let code: String
        let detail: String
        let channel: String?
    }

    package static func event(channel: String, id: String?, event: LiveEvent) -> String {
        encode(Event(channel: channel, id: id, event: event))
    }

    static func subscribed(channel: String, recovered: Bool) -> String {
        encode(Subscribed(channel: channel, recovered: recovered))
    }

    static func unsubscribed(channel: String) -> String {
        encode(Unsubscribed(channel: channel))
    }

    static func error(_ code: String, _ detail: String, channel: String? = nil) -> String {
        encode(Failure(code: code, detail: detail, channel: channel))
    }

    static let pong = #"{"type":"pong"}"#

    private static func encode(_ value: some Encodable) -> String {
        String(decoding: (try? JSONResponse.encoder.encode(value)) ?? Data(), as: UTF8.self)
    }
}
