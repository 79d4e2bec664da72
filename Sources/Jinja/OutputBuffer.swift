// The render's output: a growable raw byte buffer. Appending is a bounds check and a copy, with
// none of Array's uniqueness checks, so the many small writes of a render stay cheap.

final class OutputBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int
    /// Still writing into memory the caller owns (it moves to its own allocation when it grows).
    private(set) var isExternal = false

    init(capacity: Int = 4096) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    /// Writes into `external` (owned by the caller, who reads `count` bytes from it after) until
    /// more than `capacity` bytes are needed.
    init(external: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.capacity = capacity
        base = external
        isExternal = true
    }

    deinit { if !isExternal { base.deallocate() } }

    @inline(__always)
    func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private func grow(_ needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let q = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        q.update(from: base, count: count)
        if !isExternal { base.deallocate() }
        isExternal = false
        base = q
        capacity = c
    }

    @inline(__always)
    func append(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    @inline(__always)
    func append(_ src: UnsafeBufferPointer<UInt8>) {
        let n = src.count
        if n == 0 { return }
        reserve(n)
        let dst = UnsafeMutableRawPointer(base + count)
        let from = UnsafeRawPointer(src.baseAddress!)
        if n >= 8 && n <= 16 {
            // Two overlapping 8-byte moves.
            dst.storeBytes(of: from.loadUnaligned(as: UInt64.self), as: UInt64.self)
            (dst + n - 8).storeBytes(of: (from + n - 8).loadUnaligned(as: UInt64.self), as: UInt64.self)
        } else if n < 8 {
            for i in 0..<n { base[count + i] = src[i] }
        } else {
            dst.copyMemory(from: from, byteCount: n)
        }
        count += n
    }

    @inline(__always)
    func append(_ a: [UInt8]) { a.withUnsafeBufferPointer { append($0) } }

    @inline(__always)
    func append(_ s: String) {
        let done: Void? = s.utf8.withContiguousStorageIfAvailable { append($0) }
        if done == nil { append(Array(s.utf8)) }
    }

    @inline(__always)
    func append(_ s: StaticString) {
        append(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends `"bytes"` when the bytes need no JSON escaping; returns false (writing nothing)
    /// if they contain a control character, a quote or a backslash.
    @inline(__always)
    func appendQuotedIfClean(_ buf: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = buf.count
        if n > 0 {
            let raw = UnsafeRawPointer(buf.baseAddress!)
            var i = 0
            let lo: UInt64 = 0x0101010101010101, hi: UInt64 = 0x8080808080808080
            while i + 8 <= n {
                let x = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let q = x ^ (lo &* 0x22), bs = x ^ (lo &* 0x5C)
                if ((x &- lo &* 0x20) & ~x | (q &- lo) & ~q | (bs &- lo) & ~bs) & hi != 0 { return false }
                i += 8
            }
            while i < n {
                let b = buf[i]
                if b < 0x20 || b == 0x22 || b == 0x5C { return false }
                i += 1
            }
        }
        reserve(n + 2)
        base[count] = 0x22
        if n > 0 { (base + count + 1).update(from: buf.baseAddress!, count: n) }
        base[count + 1 + n] = 0x22
        count += n + 2
        return true
    }

    /// The decimal digits of `i`.
    func appendInt(_ i: Int) {
        if i >= 0 && i < 10 {
            append(UInt8(0x30 + i))
            return
        }
        reserve(20)
        var m = i.magnitude
        var digits = 0
        var t = m
        repeat {
            digits += 1
            t /= 10
        } while t > 0
        if i < 0 {
            base[count] = UInt8(ascii: "-")
            count += 1
        }
        var pos = count + digits
        count = pos
        repeat {
            pos -= 1
            base[pos] = UInt8(0x30 + m % 10)
            m /= 10
        } while m > 0
    }

    /// The bytes from `start` to the end, as a String.
    func bytes(from start: Int) -> [UInt8] {
        Array(UnsafeBufferPointer(start: base + start, count: count - start))
    }

    func string(from start: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: base + start, count: count - start), as: UTF8.self)
    }

    /// Drops everything after `newCount` bytes.
    @inline(__always)
    func truncate(_ newCount: Int) {
        if newCount < count { count = newCount }
    }
}

extension PyText {
    /// `str(v)` appended to the output buffer.
    @inline(__always)
    static func appendStr(_ v: Value, to out: OutputBuffer) throws(TemplateError) {
        switch v {
        case .string(let s), .markup(let s): out.append(s)
        case .undefined: break
        case .int(let i): out.appendInt(i)
        default:
            var tmp: [UInt8] = []
            try appendStr(v, to: &tmp)
            out.append(tmp)
        }
    }
}
