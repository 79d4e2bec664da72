import Dispatch
import Foundation

/// Maps `transform` over `count` items on up to `threads` threads and returns the results in item
/// order, so output never depends on the thread count or on scheduling.
public func parallelMap<T>(count: Int, threads: Int, _ transform: (Int) -> T) -> [T] {
    if count == 0 { return [] }
    let workers = max(1, min(threads, count))
    if workers == 1 { return (0..<count).map(transform) }
    // Several chunks per worker balance uneven record sizes.
    let chunks = min(count, workers * 4)
    return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        nonisolated(unsafe) let out = buffer
        withoutActuallyEscaping(transform) { transform in
            nonisolated(unsafe) let transform = transform
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = count * c / chunks
                let hi = count * (c + 1) / chunks
                for i in lo..<hi { (out.baseAddress! + i).initialize(to: transform(i)) }
            }
        }
        initialized = count
    }
}

/// The default worker count: the machine's active cores.
public var defaultThreadCount: Int { ProcessInfo.processInfo.activeProcessorCount }

/// A value set on one thread before workers start and only read by them afterwards.
public final class SharedBox<T>: @unchecked Sendable {
    public var value: T
    public init(_ value: T) { self.value = value }
}
