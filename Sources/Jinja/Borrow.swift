// Reading a Value's payload in place, without copying it.
//
// Copying a Value that holds a string, list or dict costs an atomic retain and release, and in a
// render most time goes to exactly that: a template reads `message.role` or serializes a tool
// schema, and every step copies. The hot paths (attribute lookups on variables, comparisons,
// tojson, output) instead look at the value where it lies.
//
// This relies on how Swift lays out the enum: a case's payload starts at offset 0 (a String is its
// 16 bytes, an Array or a class is one pointer). `Borrow.isSupported` verifies that once, and when
// it does not hold, every caller takes its ordinary copying path instead.

enum Borrow {
    /// Whether payloads sit at offset 0, as the functions below assume.
    static let isSupported: Bool = {
        var ok = true
        let d = Dict(stringPairs: [("k", .int(1))])
        var dv = Value.dict(d)
        withUnsafePointer(to: &dv) { p in
            ok = ok && UnsafeRawPointer(p).load(as: UnsafeRawPointer.self) == UnsafeRawPointer(Unmanaged.passUnretained(d).toOpaque())
        }
        let text = String(repeating: "borrow check ", count: 4)
        var sv = Value.string(text)
        withUnsafePointer(to: &sv) { p in
            ok = ok && UnsafeRawPointer(p).assumingMemoryBound(to: String.self).pointee == text
        }
        let items: [Value] = [.int(7), .string(text)]
        var lv = Value.list(items)
        withUnsafePointer(to: &lv) { p in
            let a = UnsafeRawPointer(p).assumingMemoryBound(to: [Value].self)
            ok = ok && a.pointee.count == 2
            if case .int(7) = a.pointee[0] {} else { ok = false }
        }
        return ok
    }()

    /// The dict at `p`, unretained (valid while the value at `p` lives), or nil if not a dict.
    @inline(__always)
    static func dict(_ p: UnsafePointer<Value>) -> Unmanaged<Dict>? {
        guard case .dict = p.pointee else { return nil }
        return UnsafeRawPointer(p).load(as: Unmanaged<Dict>.self)
    }

    /// The string payload at `p` (a str, not Markup), or nil.
    @inline(__always)
    static func string(_ p: UnsafePointer<Value>) -> UnsafePointer<String>? {
        guard case .string = p.pointee else { return nil }
        return UnsafeRawPointer(p).assumingMemoryBound(to: String.self)
    }

    /// The array payload of a list or tuple at `p`, or nil.
    @inline(__always)
    static func array(_ p: UnsafePointer<Value>) -> UnsafePointer<[Value]>? {
        switch p.pointee {
        case .list, .tuple: return UnsafeRawPointer(p).assumingMemoryBound(to: [Value].self)
        default: return nil
        }
    }
}

/// Calls `body` with the object behind `u` without retaining it (the caller keeps it alive).
@inline(__always)
func withGuaranteed<T: AnyObject, R>(_ u: Unmanaged<T>, _ body: (T) throws(TemplateError) -> R) throws(TemplateError) -> R {
    var failure: TemplateError? = nil
    let r: R? = u._withUnsafeGuaranteedRef { obj in
        do throws(TemplateError) { return try body(obj) } catch {
            failure = error
            return nil
        }
    }
    if let failure { throw failure }
    return r!
}

extension Dict {
    /// Position of a string key (with its `KeyPrint`), or nil.
    @inline(__always)
    func index(ofString key: String, print: UInt64) -> Int? {
        if let i = hashedIndex(key) { return i }
        if hasIndex { return nil }
        let exact = KeyPrint.isExact(print)
        var found: Int? = nil
        prints.withUnsafeBufferPointer { pb in
            for i in 0..<pb.count where pb[i] == print {
                if exact {
                    found = i
                    return
                }
                if case .string(let k) = keys[i], pyEqual(k, key) {
                    found = i
                    return
                }
            }
        }
        return found
    }

    /// Calls `body` with a pointer to the value at `i` (no copy).
    @inline(__always)
    func withValue<R>(at i: Int, _ body: (UnsafePointer<Value>) -> R) -> R {
        values.withUnsafeBufferPointer { body($0.baseAddress! + i) }
    }
}

extension OutputBuffer {
    /// Appends the string stored at `p` without copying it.
    @inline(__always)
    func append(borrowed p: UnsafePointer<String>) {
        let done: Void? = p.pointee.utf8.withContiguousStorageIfAvailable { append($0) }
        if done == nil { append(p.pointee) }
    }
}
