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
    // One value at a time (a tuple switch would copy both sides, with their retains).
    switch a {
    case .null:
        if case .null = b { return true }
    case .bool(let x):
        if case .bool(let y) = b { return x == y }
    case .number(let x):
        if case .number(let y) = b { return sameBytes(x.text, y.text) }
    case .string(let x):
        if case .string(let y) = b { return sameBytes(x, y) }
    case .array(let xs):
        guard case .array(let ys) = b, xs.count == ys.count else { return false }
        for i in xs.indices where !exactlyEqual(xs[i], ys[i]) { return false }
        return true
    case .object(let x):
        guard case .object(let y) = b, x.members.count == y.members.count else { return false }
        for i in x.members.indices {
            guard sameBytes(x.members[i].key, y.members[i].key), exactlyEqual(x.members[i].value, y.members[i].value) else { return false }
        }
        return true
    }
    return false
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
