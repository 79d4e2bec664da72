// Limits on what one render may consume. A template is untrusted code: it must stop with an
// error, never hang or overflow the stack.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The resources one render may use.
public struct Budget: Sendable, Equatable {
    /// Maximum nesting of macro calls (and `{% generation %}` blocks). Python jinja2 raises
    /// RecursionError after about 199 nested macro calls; the default matches that.
    public var maxCallDepth: Int
    /// Maximum loop-body executions in total across the render.
    public var maxLoopIterations: Int
    /// Maximum size of the output, of any captured block, and of any single string or list built.
    public var maxOutputBytes: Int
    /// Maximum native stack the render may use (a guard under the call-depth limit; it never
    /// exceeds what the current thread actually has left).
    public var maxStackBytes: Int

    public init(maxCallDepth: Int = 199, maxLoopIterations: Int = 1_000_000,
                maxOutputBytes: Int = 64 << 20, maxStackBytes: Int = 4 << 20) {
        self.maxCallDepth = maxCallDepth
        self.maxLoopIterations = maxLoopIterations
        self.maxOutputBytes = maxOutputBytes
        self.maxStackBytes = maxStackBytes
    }

    public static let `default` = Budget()
}

#if os(Linux)
// glibc declares pthread_getattr_np only under _GNU_SOURCE, which the Glibc module does not set.
@_silgen_name("pthread_getattr_np")
private func c_pthread_getattr_np(_ thread: pthread_t, _ attr: UnsafeMutablePointer<pthread_attr_t>) -> Int32
#endif

/// Watches native stack use during a render. Cheap until the render has used a fair amount of
/// stack; only then does it look up the thread's real stack bounds (once).
struct StackGuard {
    let start: UInt
    let maxBytes: Int
    /// The lowest stack address the render may reach, computed on first need.
    private var limit: UInt? = nil
    static let quickCheckBytes = 128 * 1024

    init(maxBytes: Int) {
        var marker: UInt8 = 0
        start = withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
        self.maxBytes = maxBytes
    }

    /// True when the stack has grown past the limit.
    @inline(__always)
    mutating func exceeded() -> Bool {
        var marker: UInt8 = 0
        let here = withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
        if here >= start || start - here < UInt(StackGuard.quickCheckBytes) { return false }
        if limit == nil {
            var lowest = start &- UInt(maxBytes)
            if let (low, _) = StackGuard.threadStackBounds() {
                // Keep a safety margin for the frames between checks and for error handling.
                let floor = low &+ 96 * 1024
                if floor > lowest { lowest = floor }
            }
            limit = lowest
        }
        return here < limit!
    }

    static func threadStackBounds() -> (UInt, UInt)? {
        #if os(Linux)
        var attr = pthread_attr_t()
        guard c_pthread_getattr_np(pthread_self(), &attr) == 0 else { return nil }
        defer { pthread_attr_destroy(&attr) }
        var addr: UnsafeMutableRawPointer? = nil
        var size = 0
        guard pthread_attr_getstack(&attr, &addr, &size) == 0, let addr else { return nil }
        let low = UInt(bitPattern: addr)
        return (low, low + UInt(size))
        #elseif canImport(Darwin)
        let t = pthread_self()
        let high = UInt(bitPattern: pthread_get_stackaddr_np(t))
        let size = UInt(pthread_get_stacksize_np(t))
        return (high - size, high)
        #else
        return nil
        #endif
    }
}
