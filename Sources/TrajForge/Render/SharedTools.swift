import ByteJSON
import Foundation
import Jinja

/// Tool lists repeat across a corpus (one list per domain), and a template renders them on every
/// turn (`tools | tojson(indent=4)`). Trajectories that carry the same list, byte for byte, share
/// one template value and one `tojson` memo, so the list is converted and serialized once per
/// renderer instead of once per trajectory. Thread-safe; keeps the last few lists.
final class SharedTools: @unchecked Sendable {
    struct Entry {
        let json: JSON
        let value: Value
        let cache: RenderCache
    }

    private let lock = NSLock()
    private var entries: [Entry] = []
    private let limit: Int

    init(limit: Int = 16) { self.limit = limit }

    /// The shared value and memo for `tools` (made on first sight).
    func entry(for tools: JSON) -> Entry {
        lock.lock()
        defer { lock.unlock() }
        if let k = entries.firstIndex(where: { exactlyEqual($0.json, tools) }) { return entries[k] }
        let e = Entry(json: tools, value: Value(json: tools), cache: RenderCache())
        if entries.count >= limit { entries.removeFirst() }
        entries.append(e)
        return e
    }
}

/// JSON equality byte for byte: strings by their UTF-8 (Swift's `==` would equate canonically
/// equivalent strings, which render differently), numbers by their text, members in order.
func exactlyEqual(_ a: JSON, _ b: JSON) -> Bool {
    switch (a, b) {
    case (.null, .null): return true
    case (.bool(let x), .bool(let y)): return x == y
    case (.number(let x), .number(let y)): return sameBytes(x.text, y.text)
    case (.string(let x), .string(let y)): return sameBytes(x, y)
    case (.array(let x), .array(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { exactlyEqual($0, $1) }
    case (.object(let x), .object(let y)):
        return x.members.count == y.members.count
            && zip(x.members, y.members).allSatisfy { sameBytes($0.key, $1.key) && exactlyEqual($0.value, $1.value) }
    default: return false
    }
}

/// The two strings' UTF-8 are identical (memcmp on native strings).
@inline(__always)
func sameBytes(_ x: String, _ y: String) -> Bool {
    let fast: Bool?? = x.utf8.withContiguousStorageIfAvailable { a in
        y.utf8.withContiguousStorageIfAvailable { b in
            a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
        }
    }
    if let fast, let fast { return fast }
    return x.utf8.elementsEqual(y.utf8)
}
