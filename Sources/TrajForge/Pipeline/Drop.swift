import ByteJSON

/// A record a stage chose not to keep: which record, which stage, why (a stable reason code), and
/// the details that justify it (e.g. the kept record of its duplicate cluster and the similarity).
public struct Drop: Sendable, Equatable {
    public var id: String
    public var stage: String
    public var reason: String
    public var detail: String
    public var details: JSONObject

    public init(id: String, stage: String, reason: String, detail: String, details: JSONObject = [:]) {
        self.id = id
        self.stage = stage
        self.reason = reason
        self.detail = detail
        self.details = details
    }

    public var json: JSON {
        ["id": .string(id), "stage": .string(stage), "reason": .string(reason), "detail": .string(detail), "details": .object(details)]
    }
}
