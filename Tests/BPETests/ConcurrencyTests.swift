import BPE
import Dispatch
import Testing

@Suite struct ConcurrencyTests {
    /// One tokenizer used from several threads at once gives the single-threaded results.
    @Test func encodeFromManyThreads() throws {
        let cases = try SharedData.parityCases("qwen2.5") + SharedData.parityCases("llama-3.1")
        let llama = Loaded.llama, qwen = Loaded.qwen
        let expected = cases.map { (llama.encode($0.text, parseSpecial: true), qwen.encode($0.text, parseSpecial: true)) }
        let results = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 8)
        results.initialize(repeating: false)
        defer { results.deallocate() }
        nonisolated(unsafe) let shared = results
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            var ok = true
            for round in 0..<3 {
                for (k, c) in cases.enumerated() where (k + worker + round) % 2 == 0 {
                    ok = ok && llama.encode(c.text, parseSpecial: true) == expected[k].0
                    ok = ok && qwen.encode(c.text, parseSpecial: true) == expected[k].1
                }
            }
            shared[worker] = ok
        }
        #expect(results.allSatisfy { $0 })
    }
}
