import Synchronization

/// Process-wide counts of what the readers consumed, for progress reports: bytes read from files
/// (as stored, i.e. compressed) and JSONL records. Relaxed atomics: cheap, approximate while a
/// stage runs, exact once it has finished.
public enum IOCounters {
    public static let bytesRead = Atomic<Int>(0)
    public static let records = Atomic<Int>(0)
}
