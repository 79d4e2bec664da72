// jinja-bench: render speed of the Jinja library on the real chat templates.
//
//   jinja-bench [--shared DIR] [--iterations N] [TEMPLATE ...]
//
// For each template (default: all 13 in DIR/templates) it renders the golden conversation
// (`rendered/input-conversation.json`, the full variant, with the inputs SOURCES.md lists), checks
// the output against the golden, then times N renders and prints microseconds per render.
// Compare with `tools/jinja/bench_python.py` (same inputs, Python jinja2 as transformers sets it up).

import ByteJSON
import Jinja

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    return out
}

func seconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

var shared = "../shared"
var iterations = 20_000
var names: [String] = []
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--shared": shared = args.popFirst() ?? shared
    case "--iterations": iterations = Int(args.popFirst() ?? "") ?? iterations
    default: names.append(a)
    }
}
if names.isEmpty {
    names = ["xLAM-2-fc-r-llama.vllm", "xLAM-2-fc-r-qwen.vllm", "xLAM-2-fc-r-qwen.hf-reconstructed",
             "Llama-3.1-8B-Instruct", "Llama-3.3-70B-Instruct", "Llama-3.2-3B-Instruct", "Llama-3.1-json.vllm",
             "Qwen2.5-7B-Instruct", "Hermes-2-Pro-Llama-3-8B.tool_use", "Hermes-3-Llama-3.1-8B.tool_use",
             "Hermes-Qwen2.5-style.vllm", "Mistral-Nemo-Instruct-2407", "Mistral-7B-Instruct-v0.3-style.vllm"]
}
let templates = shared + "/templates"
guard let convoBytes = readFile(templates + "/rendered/input-conversation.json"),
    let convo = try? JSON.parse(convoBytes)
else {
    print("cannot read \(templates)/rendered/input-conversation.json (use --shared DIR)")
    exit(1)
}

for name in names {
    guard let source = readFile("\(templates)/\(name).jinja"), let golden = readFile("\(templates)/rendered/\(name).full.txt") else {
        print("\(name): template or golden not found")
        exit(1)
    }
    var ctx: [String: Value] = [
        "messages": Value(json: convo["messages"]!),
        "tools": Value(json: name.hasPrefix("xLAM") ? convo["tools_raw_for_xlam"]! : convo["tools_wrapped"]!),
        "add_generation_prompt": false,
    ]
    if name.lowercased().contains("qwen") {
        ctx["bos_token"] = Value.none
    } else if name.hasPrefix("Mistral") {
        ctx["bos_token"] = "<s>"
        ctx["eos_token"] = "</s>"
    } else {
        ctx["bos_token"] = "<|begin_of_text|>"
    }
    let options = RenderOptions.pinned(to: CivilDateTime(year: 2025, month: 4, day: 7))
    do {
        let template = try Template(source: String(decoding: source, as: UTF8.self), name: name)
        let first = try template.render(ctx, options: options)
        guard Array(first.utf8) == golden else {
            print("\(name): output differs from the golden")
            exit(1)
        }
        for _ in 0..<min(iterations, 1000) { _ = try template.render(ctx, options: options) }
        var bytes = 0
        let t0 = seconds()
        for _ in 0..<iterations { bytes &+= try template.render(ctx, options: options).utf8.count }
        let us = (seconds() - t0) / Double(iterations) * 1e6
        print("swift Jinja \(name): \(Double(Int(us * 100)) / 100) us/render (\(iterations) renders, \(bytes / iterations) bytes each)")
    } catch {
        print("\(name): \(error)")
        exit(1)
    }
}
