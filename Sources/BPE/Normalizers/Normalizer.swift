// Normalizers: NFC only (as Qwen2/2.5 use), or none, or a Sequence of those.
//
// NFC is computed per *segment*: a maximal run of non-ASCII bytes together with the ASCII scalar just
// before it. ASCII scalars are starters that never compose with what precedes them, so a boundary
// before any ASCII byte is a safe normalization boundary and ASCII text is skipped entirely. Segments
// that NFC leaves unchanged keep their bytes; changed ones are recorded so token offsets can be mapped
// back to the original text.

/// A normalizer step this library implements.
public enum NormalizerStep: String, Sendable {
    case nfc = "NFC"
}

/// One stretch of input that normalization changed: `original` bytes became `normalized` bytes.
struct ChangedSegment {
    var original: Range<Int>
    var normalized: Range<Int>
}

/// A piece of input after normalization: its bytes and where they differ from the original.
struct NormalizedPiece {
    /// Normalized bytes.
    var bytes: [UInt8]
    /// Changed segments, in order, in piece-relative coordinates.
    var changes: [ChangedSegment]

    /// Maps a token boundary in normalized coordinates to original coordinates. A boundary inside a
    /// changed segment maps to that segment's original start (`isEnd == false`) or end (`isEnd == true`),
    /// so a token range always covers the original text that produced it.
    func originalPosition(_ x: Int, isEnd: Bool) -> Int {
        // Binary search for the last segment whose normalized start is <= x.
        var lo = 0, hi = changes.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if changes[mid].normalized.lowerBound <= x { lo = mid + 1 } else { hi = mid }
        }
        if lo == 0 { return x }
        let seg = changes[lo - 1]
        if x == seg.normalized.lowerBound { return seg.original.lowerBound }
        if x < seg.normalized.upperBound { return isEnd ? seg.original.upperBound : seg.original.lowerBound }
        return x - seg.normalized.upperBound + seg.original.upperBound
    }
}

enum Normalization {
    /// The Unicode version of HF tokenizers' normalization data (`unicode-normalization-alignments`).
    /// Scalars assigned later are unknown there: combining class 0, no decomposition, no composition.
    /// Measured against tokenizers 0.23.3: the 154 scalars Swift 6.3 treats as combining marks but HF
    /// as starters are exactly the combining marks assigned after 9.0 (10.0 to 17.0), and single-scalar
    /// NFC agrees on all 1,114,112 code points (see Tests/BPETests/UnicodeVersionTests.swift).
    static let hfNormalizationUnicodeVersion = (major: 9, minor: 0)

    /// BMP scalars assigned after `hfNormalizationUnicodeVersion` (1 = opaque), built once.
    nonisolated(unsafe) static let opaqueBMP: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 0x10000)
        t.initialize(repeating: 0, count: 0x10000)
        for v in 0x80..<0x10000 {
            guard let s = Unicode.Scalar(UInt32(v)) else { continue }
            t[v] = isOpaque(s) ? 1 : 0
        }
        return UnsafePointer(t)
    }()

    /// Whether HF's NFC treats `s` as an unassigned scalar (leaves it, and never moves text across it).
    static func isOpaque(_ s: Unicode.Scalar) -> Bool {
        guard let age = s.properties.age else { return false }
        return age.major > hfNormalizationUnicodeVersion.major
            || (age.major == hfNormalizationUnicodeVersion.major && age.minor > hfNormalizationUnicodeVersion.minor)
    }

    /// NFC of `n` bytes of valid UTF-8 at `p`, as HF computes it, or nil when the text is unchanged.
    static func nfc(_ p: UnsafePointer<UInt8>, _ n: Int) -> NormalizedPiece? {
        var out: [UInt8] = []
        var changes: [ChangedSegment] = []
        var copiedUpTo = 0   // bytes of the input already accounted for in `out`

        // Normalizes [start, end) as one unit and records it if it changed.
        func segment(_ start: Int, _ end: Int) {
            guard end > start else { return }
            let seg = UnsafeBufferPointer(start: p + start, count: end - start)
            let normalized = String(decoding: seg, as: UTF8.self)._nfcCodeUnits
            if normalized.elementsEqual(seg) { return }
            if out.isEmpty { out.reserveCapacity(n + 16) }
            out.append(contentsOf: UnsafeBufferPointer(start: p + copiedUpTo, count: start - copiedUpTo))
            let normStart = out.count
            out.append(contentsOf: normalized)
            changes.append(ChangedSegment(original: start..<end, normalized: normStart..<out.count))
            copiedUpTo = end
        }

        let opaque = opaqueBMP
        var i = 0
        while i < n {
            if p[i] < 0x80 { i += 1; continue }
            // A non-ASCII run, with the preceding ASCII scalar if any; opaque scalars cut it further.
            var segStart = i > 0 ? i - 1 : 0
            while i < n && p[i] >= 0x80 {
                let b0 = p[i]
                let len: Int
                let isOpaqueScalar: Bool
                if b0 < 0xE0 {
                    len = 2
                    isOpaqueScalar = opaque[(Int(b0 & 0x1F) << 6) | Int(p[i + 1] & 0x3F)] != 0
                } else if b0 < 0xF0 {
                    len = 3
                    isOpaqueScalar = opaque[(Int(b0 & 0x0F) << 12) | (Int(p[i + 1] & 0x3F) << 6) | Int(p[i + 2] & 0x3F)] != 0
                } else {
                    len = 4
                    let v = (UInt32(b0 & 0x07) << 18) | (UInt32(p[i + 1] & 0x3F) << 12)
                        | (UInt32(p[i + 2] & 0x3F) << 6) | UInt32(p[i + 3] & 0x3F)
                    isOpaqueScalar = isOpaque(Unicode.Scalar(v)!)
                }
                if isOpaqueScalar {
                    segment(segStart, i)
                    segStart = i + len
                }
                i += len
            }
            segment(segStart, i)
        }
        if changes.isEmpty { return nil }
        out.append(contentsOf: UnsafeBufferPointer(start: p + copiedUpTo, count: n - copiedUpTo))
        return NormalizedPiece(bytes: out, changes: changes)
    }

    /// Applies the steps in order; nil when nothing changed.
    static func apply(_ steps: [NormalizerStep], _ p: UnsafePointer<UInt8>, _ n: Int) -> NormalizedPiece? {
        // NFC is idempotent, so any non-empty sequence of NFC steps is one NFC.
        guard steps.contains(.nfc) else { return nil }
        return nfc(p, n)
    }
}
