import ByteJSON

/// Why an input record could not be used. The raw value is the stable code written to rejects files.
public enum RejectReason: String, Sendable, CaseIterable {
    /// The compressed stream is damaged or truncated; what followed the damage is lost.
    case corruptStream = "corrupt-stream"
    /// A record larger than --max-record-bytes.
    case recordTooLarge = "record-too-large"
    /// The container (JSON array or document) is broken around the record.
    case malformedJSON = "malformed-json"
    /// The record itself is not valid JSON (or not valid UTF-8).
    case invalidJSON = "invalid-json"
    /// The record does not look like any supported format (or not like the one asked for).
    case unrecognizedFormat = "unrecognized-format"
    /// A field the format requires is absent.
    case missingField = "missing-field"
    /// A field has the wrong JSON type.
    case wrongType = "wrong-type"
    /// A message role (or ShareGPT `from` tag) that has no meaning in a conversation.
    case unknownRole = "unknown-role"
    /// Tool-call arguments that are not a JSON object (or a string holding one).
    case invalidArguments = "invalid-arguments"
    /// A tool result that answers no earlier tool call.
    case orphanToolResult = "orphan-tool-result"
    /// Two tool calls of one trajectory share an id.
    case duplicateCallID = "duplicate-call-id"
    /// The `trajforge` column of an exported record does not match its conversation.
    case carryMismatch = "carry-mismatch"
    /// A file given to a command that reads canonical trajectories is not one.
    case notCanonical = "not-canonical"
}

/// One rejected input record: where it was, why, and the first bytes of it.
public struct Reject: Error, Sendable, Equatable {
    public var stage: String
    public var file: String
    public var line: Int?
    public var index: Int?
    public var offset: Int?
    public var reason: RejectReason
    public var detail: String
    public var recordID: String?
    public var excerpt: String?

    public init(stage: String, file: String, line: Int? = nil, index: Int? = nil, offset: Int? = nil,
                reason: RejectReason, detail: String, recordID: String? = nil, excerpt: String? = nil)
    {
        self.stage = stage
        self.file = file
        self.line = line
        self.index = index
        self.offset = offset
        self.reason = reason
        self.detail = detail
        self.recordID = recordID
        self.excerpt = excerpt
    }

    public init(stage: String, at location: RecordLocation, reason: RejectReason, detail: String, excerptOf bytes: ArraySlice<UInt8>? = nil) {
        self.init(stage: stage, file: location.file, line: location.line, index: location.index, offset: location.offset,
                  reason: reason, detail: detail, excerpt: bytes.map { Reject.excerpt($0) })
    }

    /// The first 240 bytes of a record, cut at a character boundary, for the rejects file.
    public static func excerpt(_ bytes: ArraySlice<UInt8>, limit: Int = 240) -> String {
        var cut = bytes.prefix(limit)
        // Back off to the start of a UTF-8 sequence so the excerpt is valid text.
        while let last = cut.last, cut.count < bytes.count, last & 0xC0 == 0x80 || last >= 0xC0 { cut = cut.dropLast() }
        let text = String(decoding: cut, as: UTF8.self)
        return cut.count < bytes.count ? text + "…" : text
    }

    /// `file:line` (or `file[index]`) for messages.
    public var place: String {
        if let line { return "\(file):\(line)" }
        if let index { return "\(file)[\(index)]" }
        return file
    }

    public var json: JSON {
        var o: JSONObject = ["stage": .string(stage), "reason": .string(reason.rawValue), "detail": .string(detail),
                             "file": .string(file)]
        o["line"] = line.map { .number(JSONNumber($0)) } ?? .null
        o["index"] = index.map { .number(JSONNumber($0)) } ?? .null
        o["offset"] = offset.map { .number(JSONNumber($0)) } ?? .null
        if let recordID { o["record_id"] = .string(recordID) }
        if let excerpt { o["excerpt"] = .string(excerpt) }
        return .object(o)
    }
}
