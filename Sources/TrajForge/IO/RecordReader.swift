import ByteJSON
#if canImport(Glibc)
import Glibc
#endif

// Streaming record readers: JSONL lines, elements of a top-level JSON array, and the elements of
// one array member of a top-level object (tau2-bench's `simulations`). They copy record bytes into
// batches (a few MiB each) so workers can parse a batch in parallel; memory stays bounded by the
// batch size and the largest record, whatever the file size.

/// Where a record sits in its input: 1-based line, 0-based record index, byte offset in the
/// decompressed stream.
public struct RecordLocation: Sendable, Equatable {
    public var file: String
    public var line: Int
    public var index: Int
    public var offset: Int

    public init(file: String, line: Int, index: Int, offset: Int) {
        self.file = file
        self.line = line
        self.index = index
        self.offset = offset
    }
}

public struct RawRecord: Sendable {
    /// The record's bytes inside its batch's storage.
    public var range: Range<Int>
    public var location: RecordLocation
}

public enum BatchItem: Sendable {
    case record(RawRecord)
    /// A member of a top-level object that is not the streamed array (tau2's `info`, `tasks`).
    case context(key: String, range: Range<Int>)
    /// Input that could not become a record (a damaged stream, an over-long line, broken structure).
    case problem(Reject)
}

public struct RecordBatch: Sendable {
    public var storage: [UInt8] = []
    public var items: [BatchItem] = []

    public func bytes(_ range: Range<Int>) -> ArraySlice<UInt8> { storage[range] }
}

public protocol RecordReader: AnyObject {
    /// The next batch, or nil at the end. System I/O errors are thrown; damaged input becomes
    /// `.problem` items.
    func nextBatch() throws(IOError) -> RecordBatch?
}

public struct ReaderLimits: Sendable {
    /// Records larger than this are rejected (the reader skips to the next newline).
    public var maxRecordBytes: Int = 1 << 30
    /// A batch closes once it holds this many bytes or records.
    public var batchBytes: Int = 4 << 20
    public var batchRecords: Int = 2048
    public init(maxRecordBytes: Int = 1 << 30, batchBytes: Int = 4 << 20, batchRecords: Int = 2048) {
        self.maxRecordBytes = maxRecordBytes
        self.batchBytes = batchBytes
        self.batchRecords = batchRecords
    }
}

/// Shared chunked-read machinery: a fixed 1 MiB buffer over a source.
public class ChunkedInput {
    let source: ByteSource
    let file: String
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var start = 0
    var end = 0
    /// Decompressed offset of buffer[0].
    var bufferOffset = 0
    var eof = false
    /// Set when the stream turned out damaged; reading stops after reporting it.
    var damage: IOError?

    init(source: ByteSource, file: String) {
        self.source = source
        self.file = file
    }

    /// Reads the next chunk; false at the end (or after damage).
    func refill() throws(IOError) -> Bool {
        if eof { return false }
        bufferOffset += end
        start = 0
        end = 0
        do {
            let n = try source.read(into: &buffer)
            if n == 0 {
                eof = true
                return false
            }
            end = n
            return true
        } catch {
            guard error.kind == .corrupt else { throw error }
            damage = error
            eof = true
            return false
        }
    }
}

// MARK: - JSONL

public final class JSONLReader: ChunkedInput, RecordReader {
    let limits: ReaderLimits
    var line = 0  // lines completed so far
    var index = 0
    public private(set) var blankLines = 0
    /// Yield blank lines as (empty) records instead of skipping them, so output lines align with input lines.
    public var keepsBlankLines = false
    var finished = false

    public init(source: ByteSource, file: String, limits: ReaderLimits = .init()) {
        self.limits = limits
        super.init(source: source, file: file)
    }

    public func nextBatch() throws(IOError) -> RecordBatch? {
        if finished { return nil }
        var batch = RecordBatch()
        batch.storage.reserveCapacity(limits.batchBytes + 4096)
        while batch.storage.count < limits.batchBytes && batch.items.count < limits.batchRecords {
            if !(try readLine(into: &batch)) {
                finished = true
                break
            }
        }
        IOCounters.records.add(batch.items.count, ordering: .relaxed)
        return batch.items.isEmpty && finished ? nil : batch
    }

    /// Appends one line (a record, a problem, or nothing for a blank line); false at the end.
    private func readLine(into batch: inout RecordBatch) throws(IOError) -> Bool {
        let recordStart = batch.storage.count
        let lineOffset = bufferOffset + start
        var length = 0
        var tooLong = false
        while true {
            if start == end {
                if !(try refill()) {
                    if let damage {
                        batch.storage.removeSubrange(recordStart...)
                        let lost = length > 0 ? " (an unfinished record of \(length) bytes on line \(line + 1) was lost)" : ""
                        batch.items.append(.problem(Reject(stage: "read", file: file, line: line + 1, index: index, offset: lineOffset,
                                                           reason: .corruptStream, detail: damage.message + lost)))
                        self.damage = nil
                        return false
                    }
                    if length == 0 { return false }
                    break  // last line without a newline
                }
            }
            let found: Int? = buffer.withUnsafeBytes { raw in
                memchr(raw.baseAddress! + start, 0x0A, end - start).map { UnsafeRawPointer($0) - raw.baseAddress! }
            }
            let stop = found ?? end
            let chunk = stop - start
            if !tooLong {
                if length + chunk > limits.maxRecordBytes {
                    tooLong = true
                    batch.storage.removeSubrange(recordStart...)
                } else {
                    batch.storage.append(contentsOf: buffer[start..<stop])
                }
            }
            length += chunk
            start = stop
            if found != nil {
                start += 1
                break
            }
        }
        line += 1
        if tooLong {
            batch.items.append(.problem(Reject(stage: "read", file: file, line: line, index: index, offset: lineOffset,
                                               reason: .recordTooLarge,
                                               detail: "line is \(length) bytes; the limit is \(limits.maxRecordBytes) (--max-record-bytes)")))
            index += 1
            return true
        }
        if !keepsBlankLines, isBlank(batch.storage[recordStart...]) {
            batch.storage.removeSubrange(recordStart...)
            blankLines += 1
            return true
        }
        batch.items.append(.record(RawRecord(range: recordStart..<batch.storage.count,
                                             location: RecordLocation(file: file, line: line, index: index, offset: lineOffset))))
        index += 1
        return true
    }
}

@inline(__always)
func isJSONWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

func isBlank(_ bytes: ArraySlice<UInt8>) -> Bool { bytes.allSatisfy(isJSONWhitespace) }

// MARK: - JSON containers

/// Splits a top-level JSON array into its elements, or a top-level object into its members,
/// streaming the elements of one array member (`streamKey`) as records.
public final class JSONContainerReader: ChunkedInput, RecordReader {
    public enum Shape: Sendable, Equatable {
        /// `[record, record, …]`
        case array
        /// `{…, "<streamKey>": [record, …], …}`; other members become `.context` items when
        /// `collectContext` is set, and records are emitted when `emitRecords` is set.
        case object(streamKey: String, collectContext: Bool, emitRecords: Bool)
    }

    enum Phase {
        case start, memberKey, memberKeyString, memberColon, memberValue, valueCapture, afterMember
        case elementStart, element, afterTop, done
    }

    let shape: Shape
    let limits: ReaderLimits
    var phase = Phase.start
    var line = 1
    var index = 0
    var depth = 0
    var inString = false
    var escaped = false
    var keyBytes: [UInt8] = []
    var currentKey = ""
    var capturing = false
    var captureStart = 0  // in batch storage
    var captureLine = 0
    var captureOffset = 0
    var captureTooLong = false
    var afterComma = false
    public private(set) var sawStreamKey = false
    var nested = false  // the array being split is a member of the top-level object

    public init(source: ByteSource, file: String, shape: Shape, limits: ReaderLimits = .init()) {
        self.shape = shape
        self.limits = limits
        super.init(source: source, file: file)
    }

    var emitsRecords: Bool {
        if case .object(_, _, let emit) = shape { return emit }
        return true
    }

    var collectsContext: Bool {
        if case .object(_, let collect, _) = shape { return collect }
        return false
    }

    public func nextBatch() throws(IOError) -> RecordBatch? {
        if phase == .done { return nil }
        var batch = RecordBatch()
        while phase != .done {
            if start == end {
                if !(try refill()) {
                    finishAtEnd(&batch)
                    break
                }
            }
            scan(&batch)
            // A record never spans batches: close the batch only between records.
            if batch.storage.count >= limits.batchBytes || batch.items.count >= limits.batchRecords, !capturing { break }
        }
        return batch.items.isEmpty && phase == .done ? nil : batch
    }

    private func problem(_ batch: inout RecordBatch, _ reason: RejectReason, _ detail: String, line: Int? = nil, offset: Int? = nil) {
        batch.items.append(.problem(Reject(stage: "read", file: file, line: line ?? self.line, index: index,
                                           offset: offset ?? (bufferOffset + start), reason: reason, detail: detail)))
    }

    private func finishAtEnd(_ batch: inout RecordBatch) {
        if let damage {
            if capturing { batch.storage.removeSubrange(captureStart...) }
            problem(&batch, .corruptStream, damage.message + (capturing ? " (an unfinished record starting on line \(captureLine) was lost)" : ""),
                    line: capturing ? captureLine : line)
            phase = .done
            return
        }
        switch phase {
        case .afterTop, .done: break
        case .start:
            problem(&batch, .malformedJSON, "the input is empty")
        default:
            if capturing { batch.storage.removeSubrange(captureStart...) }
            let what = capturing ? "inside the record starting on line \(captureLine)" : "before the closing bracket"
            problem(&batch, .malformedJSON, "the JSON \(shapeName) is truncated: the input ended \(what)",
                    line: capturing ? captureLine : line)
        }
        phase = .done
    }

    private var shapeName: String {
        if case .array = shape { return "array" }
        return "document"
    }

    /// Flushes the bytes of the current capture from the read buffer into the batch.
    @inline(__always)
    private func flushCapture(_ batch: inout RecordBatch, from mark: Int, to stop: Int) {
        guard capturing, !captureTooLong, stop > mark else { return }
        if batch.storage.count - captureStart + (stop - mark) > limits.maxRecordBytes {
            captureTooLong = true
            batch.storage.removeSubrange(captureStart...)
            return
        }
        batch.storage.append(contentsOf: buffer[mark..<stop])
    }

    private func beginCapture(_ batch: inout RecordBatch, keep: Bool) {
        capturing = keep
        captureTooLong = false
        captureStart = batch.storage.count
        captureLine = line
        captureOffset = bufferOffset + start
        depth = 0
        inString = false
        escaped = false
    }

    /// Ends a capture at the current position (exclusive) and emits it.
    private func endCapture(_ batch: inout RecordBatch, asRecord: Bool) {
        defer { capturing = false }
        if !asRecord && !capturing { return }
        if captureTooLong {
            problem(&batch, .recordTooLarge, "record is larger than \(limits.maxRecordBytes) bytes (--max-record-bytes)",
                    line: captureLine, offset: captureOffset)
            index += 1
            return
        }
        guard capturing else { return }
        var stop = batch.storage.count
        while stop > captureStart, isJSONWhitespace(batch.storage[stop - 1]) { stop -= 1 }
        batch.storage.removeSubrange(stop...)
        if asRecord {
            if stop == captureStart {
                problem(&batch, .malformedJSON, "empty array element (a stray comma?)", line: captureLine, offset: captureOffset)
            } else {
                batch.items.append(.record(RawRecord(range: captureStart..<stop,
                                                     location: RecordLocation(file: file, line: captureLine, index: index, offset: captureOffset))))
            }
            index += 1
        } else {
            batch.items.append(.context(key: currentKey, range: captureStart..<stop))
        }
    }

    /// Runs the state machine over the buffered bytes.
    private func scan(_ batch: inout RecordBatch) {
        var mark = start
        while start < end {
            let b = buffer[start]
            if b == 0x0A { line += 1 }
            switch phase {
            case .start:
                if isJSONWhitespace(b) || (bufferOffset + start < 3 && (b == 0xEF || b == 0xBB || b == 0xBF)) { break }
                switch (shape, b) {
                case (.array, UInt8(ascii: "[")): phase = .elementStart
                case (.object, UInt8(ascii: "{")): phase = .memberKey
                default:
                    problem(&batch, .malformedJSON, "expected a JSON \(shapeName) to start with \(shapeName == "array" ? "'['" : "'{'")")
                    phase = .done
                    return
                }
            case .memberKey:
                if isJSONWhitespace(b) { break }
                if b == UInt8(ascii: "\"") {
                    keyBytes.removeAll(keepingCapacity: true)
                    phase = .memberKeyString
                    escaped = false
                } else if b == UInt8(ascii: "}") && !afterComma {
                    phase = .afterTop
                } else {
                    problem(&batch, .malformedJSON, "expected a member name")
                    phase = .done
                    return
                }
            case .memberKeyString:
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    currentKey = (try? JSON.parse([UInt8(ascii: "\"")] + keyBytes + [UInt8(ascii: "\"")]))?.string ?? String(decoding: keyBytes, as: UTF8.self)
                    phase = .memberColon
                    break
                }
                keyBytes.append(b)
            case .memberColon:
                if isJSONWhitespace(b) { break }
                guard b == UInt8(ascii: ":") else {
                    problem(&batch, .malformedJSON, "expected ':' after member \"\(currentKey)\"")
                    phase = .done
                    return
                }
                phase = .memberValue
            case .memberValue:
                if isJSONWhitespace(b) { break }
                afterComma = false
                if case .object(let streamKey, _, _) = shape, currentKey == streamKey {
                    guard b == UInt8(ascii: "[") else {
                        problem(&batch, .malformedJSON, "member \"\(streamKey)\" is not an array")
                        phase = .done
                        return
                    }
                    sawStreamKey = true
                    nested = true
                    phase = .elementStart
                    break
                }
                beginCapture(&batch, keep: collectsContext)
                mark = start
                phase = .valueCapture
                continue  // re-read this byte in the capture phase
            case .valueCapture, .element:
                if inString {
                    if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                    break
                }
                switch b {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    if depth > 0 {
                        depth -= 1
                        break
                    }
                    flushCapture(&batch, from: mark, to: start)
                    if phase == .element {
                        endCapture(&batch, asRecord: true)
                        guard b == UInt8(ascii: "]") else {
                            problem(&batch, .malformedJSON, "unbalanced '}' in the array")
                            phase = .done
                            return
                        }
                        phase = nested ? .afterMember : .afterTop
                        nested = false
                    } else {
                        endCapture(&batch, asRecord: false)
                        guard b == UInt8(ascii: "}") else {
                            problem(&batch, .malformedJSON, "unbalanced ']' in the object")
                            phase = .done
                            return
                        }
                        phase = .afterTop
                    }
                case UInt8(ascii: ","):
                    if depth > 0 { break }
                    flushCapture(&batch, from: mark, to: start)
                    if phase == .element {
                        endCapture(&batch, asRecord: true)
                        phase = .elementStart
                        afterComma = true
                        // A full batch closes between elements (the scan would otherwise run
                        // to the end of the buffer, always inside the next element).
                        if batch.storage.count >= limits.batchBytes || batch.items.count >= limits.batchRecords {
                            start += 1
                            return
                        }
                    } else {
                        endCapture(&batch, asRecord: false)
                        phase = .memberKey
                        afterComma = true
                    }
                default: break
                }
            case .elementStart:
                if isJSONWhitespace(b) { break }
                if b == UInt8(ascii: "]") {
                    if afterComma {
                        problem(&batch, .malformedJSON, "trailing comma before ']'")
                        index += 1
                    }
                    afterComma = false
                    phase = nested ? .afterMember : .afterTop
                    nested = false
                    break
                }
                afterComma = false
                beginCapture(&batch, keep: emitsRecords)
                if !emitsRecords { capturing = false }
                mark = start
                phase = .element
                continue
            case .afterMember:
                if isJSONWhitespace(b) { break }
                if b == UInt8(ascii: ",") {
                    phase = .memberKey
                    afterComma = true
                } else if b == UInt8(ascii: "}") {
                    phase = .afterTop
                } else {
                    problem(&batch, .malformedJSON, "expected ',' or '}' after member \"\(currentKey)\"")
                    phase = .done
                    return
                }
            case .afterTop:
                if isJSONWhitespace(b) { break }
                problem(&batch, .malformedJSON, "extra data after the top-level JSON \(shapeName)")
                phase = .done
                return
            case .done:
                return
            }
            start += 1
        }
        if phase == .valueCapture || phase == .element { flushCapture(&batch, from: mark, to: end) }
    }
}
