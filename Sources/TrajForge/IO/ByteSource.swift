#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure to read or write bytes. `corrupt` means the bytes arrived but are damaged (a truncated
/// or invalid compressed stream): that is a problem of the input data, reported as a reject, not a
/// reason to stop the run.
public struct IOError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case system, corrupt }
    public var kind: Kind
    public var path: String
    public var message: String

    public init(_ kind: Kind = .system, path: String, _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public static func errno(_ path: String, _ what: String) -> IOError {
        IOError(.system, path: path, "\(what): \(String(cString: strerror(Glibc.errno)))")
    }

    public var description: String { "\(path): \(message)" }
}

/// A stream of bytes read in chunks.
public protocol ByteSource: AnyObject {
    /// Fills up to `buffer.count` bytes and returns how many; 0 means the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> Int
}

/// Reads a file descriptor with read(2); "-" means standard input.
public final class FileSource: ByteSource {
    public let path: String
    let fd: Int32
    let ownsFD: Bool

    public init(path: String) throws(IOError) {
        self.path = path
        if path == "-" {
            fd = 0
            ownsFD = false
        } else {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw IOError.errno(path, "cannot open") }
            var st = stat()
            if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
                close(fd)
                throw IOError(path: path, "is a directory")
            }
            self.fd = fd
            ownsFD = true
        }
    }

    deinit { if ownsFD { close(fd) } }

    /// True for a regular file (can be read twice by opening it again).
    public var isRegularFile: Bool {
        var st = stat()
        return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 {
                IOCounters.bytesRead.add(n, ordering: .relaxed)
                return n
            }
            if errno == EINTR { continue }
            throw IOError.errno(path, "read failed")
        }
    }
}

/// Bytes already in memory.
public final class MemorySource: ByteSource {
    let bytes: [UInt8]
    var position = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> Int {
        let n = min(buffer.count, bytes.count - position)
        if n > 0 {
            bytes.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + position, byteCount: n)
            }
            position += n
        }
        return n
    }
}

/// Replays bytes that were read ahead (to sniff magic numbers), then continues with the source.
final class PrefixedSource: ByteSource {
    var prefix: [UInt8]
    var position = 0
    let rest: ByteSource
    /// Damage met while reading ahead: raised once the prefix is used up.
    var pendingError: IOError?

    init(prefix: [UInt8], rest: ByteSource, pendingError: IOError? = nil) {
        self.prefix = prefix
        self.rest = rest
        self.pendingError = pendingError
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> Int {
        if position < prefix.count {
            let n = min(buffer.count, prefix.count - position)
            prefix.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + position, byteCount: n)
            }
            position += n
            if position == prefix.count {
                prefix = []
                position = 0
            }
            return n
        }
        if let error = pendingError {
            pendingError = nil
            throw error
        }
        return try rest.read(into: buffer)
    }
}

extension ByteSource {
    /// Reads up to `count` bytes for sniffing; damage found on the way is returned, not thrown,
    /// so the bytes before it still count.
    func readHead(_ count: Int) throws(IOError) -> ([UInt8], IOError?) {
        var out = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n: Int
            do { n = try read(into: &out, from: filled) } catch {
                guard error.kind == .corrupt else { throw error }
                out.removeSubrange(filled...)
                return (out, error)
            }
            if n == 0 { break }
            filled += n
        }
        out.removeSubrange(filled...)
        return (out, nil)
    }

    /// Reads until `count` bytes are collected or the stream ends.
    func readUpTo(_ count: Int) throws(IOError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = try read(into: &out, from: filled)
            if n == 0 { break }
            filled += n
        }
        out.removeSubrange(filled...)
        return out
    }
}

extension ByteSource {
    /// Reads into `array[from...]`; returns the byte count (0 at the end).
    func read(into array: inout [UInt8], from: Int = 0) throws(IOError) -> Int {
        let result: Result<Int, IOError> = array.withUnsafeMutableBytes { raw in
            do throws(IOError) { return .success(try read(into: UnsafeMutableRawBufferPointer(rebasing: raw[from...]))) } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
