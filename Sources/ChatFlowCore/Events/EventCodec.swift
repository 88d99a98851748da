import ChatFlowStorage

/// The binary form of an `EventEnvelope`, as stored in the change log's values.
///
/// Every event starts with the same header:
///
///     version(1) = 0x01 ‖ kind(1) ‖ actor(str)
///
/// followed by the fields of its kind, in this order:
///
///     1  chat.created     name(str) ‖ description(str) ‖ isPrivate(bool)
///     2  chat.updated     chat(id) ‖ name(opt str) ‖ description(opt str) ‖ isPrivate(opt bool)
///     3  member.joined    chat(id) ‖ user(str) ‖ role(u8: owner 1, member 2)
///     4  member.left      chat(id) ‖ user(str)
///     5  message.created  chat(id) ‖ content(str) ‖ type(u8: text 1, image 2, file 3) ‖ clientMessageID(opt str)
///     6  message.edited   chat(id) ‖ message(id) ‖ content(str)
///     7  message.deleted  chat(id) ‖ message(id)
///     8  reaction.added   chat(id) ‖ message(id) ‖ emoji(str)
///     9  reaction.removed chat(id) ‖ message(id) ‖ emoji(str)
///     10 read.moved       chat(id) ‖ message(id)
///
/// where str = varint byte length ‖ UTF-8, id = 16 big-endian bytes (the ULID key form),
/// bool = 0x00 / 0x01, opt = 0x00 absent / 0x01 ‖ value, and varint = unsigned LEB128 in
/// its shortest form. Nothing may follow the last field.
///
/// The log is permanent, so this layout is too: the golden-bytes tests pin every kind.
/// A change to an existing kind's fields needs a new version byte, and the decoder must
/// keep reading every older version. The encoding is canonical — the decoder accepts
/// exactly the bytes the encoder produces — so equal events have equal bytes.
public enum EventCodec {
    /// The version this build writes, and the only one it reads so far.
    public static let formatVersion: UInt8 = 1

    public static func encode(_ envelope: EventEnvelope) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(64)
        encode(envelope, into: &buffer)
        return buffer
    }

    /// Appends the encoding to `buffer`, so a batch can reuse one allocation.
    public static func encode(_ envelope: EventEnvelope, into buffer: inout [UInt8]) {
        var writer = BinaryWriter()
        swap(&writer.buffer, &buffer)
        defer { swap(&writer.buffer, &buffer) }

        writer.writeByte(formatVersion)
        writer.writeByte(envelope.event.kind.rawValue)
        writer.writeString(envelope.actor.rawValue)
        switch envelope.event {
        case .chatCreated(let e):
            writer.writeString(e.name)
            writer.writeString(e.description)
            writer.writeBool(e.isPrivate)
        case .chatUpdated(let e):
            writer.writeULID(e.chat.ulid)
            writer.writeOptional(e.name) { $0.writeString($1) }
            writer.writeOptional(e.description) { $0.writeString($1) }
            writer.writeOptional(e.isPrivate) { $0.writeBool($1) }
        case .memberJoined(let e):
            writer.writeULID(e.chat.ulid)
            writer.writeString(e.user.rawValue)
            writer.writeByte(e.role.code)
        case .memberLeft(let e):
            writer.writeULID(e.chat.ulid)
            writer.writeString(e.user.rawValue)
        case .messagePosted(let e):
            writer.writeULID(e.chat.ulid)
            writer.writeString(e.content)
            writer.writeByte(e.type.code)
            writer.writeOptional(e.clientMessageID) { $0.writeString($1) }
        case .messageEdited(let e):
            writer.writeULID(e.chat.ulid)
            writer.writeULID(e.message.ulid)
            writer.writeString(e.content)
        case .messageDeleted(let e):
            writer.writeULID(e.chat.ulid)
            writer.writeULID(e.message.ulid)
        case .reactionAdded(let e):
            writer.writeULID(e.chat.ulid)
            writer.writeULID(e.message.ulid)
            writer.writeString(e.emoji)
        case .reactionRemoved(let e):
            writer.writeULID(e.chat.ulid)
            writer.writeULID(e.message.ulid)
            writer.writeString(e.emoji)
        case .readMarkerMoved(let e):
            writer.writeULID(e.chat.ulid)
            writer.writeULID(e.message.ulid)
        }
    }

    // MARK: - Decoding

    /// Decodes borrowed memory, such as a RocksDB value, without copying it first.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(EventCodecError) -> EventEnvelope {
        var reader = BinaryReader(bytes)
        return try decode(from: &reader)
    }

    // `withUnsafeBytes` only rethrows `any Error`, so the typed error travels in a Result.

    public static func decode(_ bytes: [UInt8]) throws(EventCodecError) -> EventEnvelope {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(EventCodecError) in try decode(raw) }
        }.get()
    }

    public static func decode(_ bytes: ArraySlice<UInt8>) throws(EventCodecError) -> EventEnvelope {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(EventCodecError) in try decode(raw) }
        }.get()
    }

    private static func decode(from reader: inout BinaryReader) throws(EventCodecError) -> EventEnvelope {
        let version = try reader.readByte("format version")
        guard version == formatVersion else { throw .unsupportedVersion(version) }
        let code = try reader.readByte("event kind")
        guard let kind = EventKind(rawValue: code) else { throw .unknownKind(code) }
        let actor = UserID(unchecked: try reader.readString("actor"))

        let event: ChangeEvent
        switch kind {
        case .chatCreated:
            event = .chatCreated(.init(
                name: try reader.readString("name"),
                description: try reader.readString("description"),
                isPrivate: try reader.readBool("isPrivate")))
        case .chatUpdated:
            let chat = ChatID(try reader.readULID("chat id"))
            let name = try reader.readPresence("name") ? try reader.readString("name") : nil
            let description = try reader.readPresence("description") ? try reader.readString("description") : nil
            let isPrivate = try reader.readPresence("isPrivate") ? try reader.readBool("isPrivate") : nil
            event = .chatUpdated(.init(chat: chat, name: name, description: description, isPrivate: isPrivate))
        case .memberJoined:
            event = .memberJoined(.init(
                chat: ChatID(try reader.readULID("chat id")),
                user: UserID(unchecked: try reader.readString("user id")),
                role: try reader.readCode("member role", MemberRole.init(code:))))
        case .memberLeft:
            event = .memberLeft(.init(
                chat: ChatID(try reader.readULID("chat id")),
                user: UserID(unchecked: try reader.readString("user id"))))
        case .messagePosted:
            let chat = ChatID(try reader.readULID("chat id"))
            let content = try reader.readString("content")
            let type = try reader.readCode("message type", MessageType.init(code:))
            let clientMessageID = try reader.readPresence("client message id")
                ? try reader.readString("client message id") : nil
            event = .messagePosted(.init(chat: chat, content: content, type: type, clientMessageID: clientMessageID))
        case .messageEdited:
            event = .messageEdited(.init(
                chat: ChatID(try reader.readULID("chat id")),
                message: MessageID(try reader.readULID("message id")),
                content: try reader.readString("content")))
        case .messageDeleted:
            event = .messageDeleted(.init(
                chat: ChatID(try reader.readULID("chat id")),
                message: MessageID(try reader.readULID("message id"))))
        case .reactionAdded:
            event = .reactionAdded(.init(
                chat: ChatID(try reader.readULID("chat id")),
                message: MessageID(try reader.readULID("message id")),
                emoji: try reader.readString("emoji")))
        case .reactionRemoved:
            event = .reactionRemoved(.init(
                chat: ChatID(try reader.readULID("chat id")),
                message: MessageID(try reader.readULID("message id")),
                emoji: try reader.readString("emoji")))
        case .readMarkerMoved:
            event = .readMarkerMoved(.init(
                chat: ChatID(try reader.readULID("chat id")),
                message: MessageID(try reader.readULID("message id"))))
        }

        guard reader.isAtEnd else {
            throw .trailingBytes(kind: kind, count: reader.remaining, offset: reader.offset)
        }
        return EventEnvelope(actor: actor, event: event)
    }
}
