// The 13 real chat templates in ../shared/templates rendered on the golden conversation must
// match the goldens jinja2 3.1.6 produced, byte for byte (see ../shared/templates/SOURCES.md).

import ByteJSON
import Foundation
import Jinja
import Testing

struct GoldenCase: Sendable, CustomTestStringConvertible {
    let template: String
    let full: Bool
    var testDescription: String { "\(template) (\(full ? "full" : "genprompt"))" }

    static let templates = [
        "xLAM-2-fc-r-llama.vllm", "xLAM-2-fc-r-qwen.vllm", "xLAM-2-fc-r-qwen.hf-reconstructed",
        "Llama-3.1-8B-Instruct", "Llama-3.3-70B-Instruct", "Llama-3.2-3B-Instruct", "Llama-3.1-json.vllm",
        "Qwen2.5-7B-Instruct", "Hermes-2-Pro-Llama-3-8B.tool_use", "Hermes-3-Llama-3.1-8B.tool_use",
        "Hermes-Qwen2.5-style.vllm", "Mistral-Nemo-Instruct-2407", "Mistral-7B-Instruct-v0.3-style.vllm",
    ]
    static let all: [GoldenCase] = templates.flatMap { [GoldenCase(template: $0, full: true), GoldenCase(template: $0, full: false)] }

    /// The variables SOURCES.md says each family was rendered with.
    func context() throws -> [String: Value] {
        let convo = try readJSON(Paths.rendered.appendingPathComponent("input-conversation.json"))
        var messages = try #require(convo["messages"]?.array)
        if !full { messages.removeLast() }
        var ctx: [String: Value] = [
            "messages": Value(json: .array(messages)),
            "add_generation_prompt": .bool(!full),
            "tools": Value(json: try #require(template.hasPrefix("xLAM") ? convo["tools_raw_for_xlam"] : convo["tools_wrapped"])),
        ]
        if template.lowercased().contains("qwen") {
            ctx["bos_token"] = Value.none
        } else if template.hasPrefix("Mistral") {
            ctx["bos_token"] = "<s>"
            ctx["eos_token"] = "</s>"
        } else {
            ctx["bos_token"] = "<|begin_of_text|>"
        }
        return ctx
    }
}

@Suite struct GoldenTemplateTests {
    @Test(arguments: GoldenCase.all)
    func rendersLikeJinja2(_ c: GoldenCase) throws {
        let source = try readText(Paths.templates.appendingPathComponent(c.template + ".jinja"))
        let expected = try readText(Paths.rendered.appendingPathComponent("\(c.template).\(c.full ? "full" : "genprompt").txt"))
        let template = try Template(source: source, name: c.template + ".jinja")
        let options = RenderOptions.pinned(to: CivilDateTime(year: 2025, month: 4, day: 7))
        let got = try template.render(context: try c.context(), options: options)
        #expect(got.text == expected)
        #expect(got.generationSpans.isEmpty)
    }

    @Test func templateIsReusableAcrossRenders() throws {
        let c = GoldenCase(template: "Hermes-2-Pro-Llama-3-8B.tool_use", full: true)
        let template = try Template(source: try readText(Paths.templates.appendingPathComponent(c.template + ".jinja")))
        let ctx = try c.context()
        let first = try template.render(ctx)
        for _ in 0..<5 { #expect(try template.render(ctx) == first) }
    }

    @Test func rendersConcurrentlyFromManyTasks() async throws {
        let c = GoldenCase(template: "xLAM-2-fc-r-llama.vllm", full: true)
        let template = try Template(source: try readText(Paths.templates.appendingPathComponent(c.template + ".jinja")))
        let ctx = try c.context()
        let expected = try readText(Paths.rendered.appendingPathComponent("\(c.template).full.txt"))
        let results = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<16 {
                group.addTask { try (0..<20).map { _ in try template.render(ctx) }.last! }
            }
            var out: [String] = []
            for try await r in group { out.append(r) }
            return out
        }
        #expect(results.count == 16)
        #expect(results.allSatisfy { $0 == expected })
    }
}
