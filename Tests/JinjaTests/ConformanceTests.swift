// Differential conformance: every case in tools/jinja/conformance_cases.jsonl rendered here must
// give exactly the output real jinja2 gave (Fixtures/conformance-goldens.jsonl, written by
// tools/jinja/make_goldens.py), or fail where jinja2 raised, with a matching error kind.

import ByteJSON
import Foundation
import Jinja
import Testing

struct ConformanceCase: Sendable, CustomTestStringConvertible {
    let name: String
    let template: String
    let context: JSON
    let expectedOutput: String?
    let expectedError: String?
    let expectedSpans: [Range<Int>]?
    var testDescription: String { name }

    static func load() -> [ConformanceCase] {
        do {
            var goldens: [String: JSON] = [:]
            for line in try readText(Paths.fixtures.appendingPathComponent("conformance-goldens.jsonl")).split(separator: "\n") {
                let g = try JSON.parse(String(line))
                goldens[g["name"]!.string!] = g
            }
            return try readText(Paths.cases).split(separator: "\n").map { line in
                let c = try JSON.parse(String(line))
                let name = c["name"]!.string!
                let g = goldens[name]
                // Cases on the real chat templates read them from ../shared (never copied here).
                let template = try c["template"]?.string
                    ?? readText(Paths.templates.appendingPathComponent(c["template_file"]!.string!))
                return ConformanceCase(
                    name: name, template: template, context: c["context"] ?? .object(JSONObject()),
                    expectedOutput: g?["output"]?.string, expectedError: g?["error"]?.string,
                    expectedSpans: g?["spans"]?.array?.map { $0.array![0].int!..<$0.array![1].int! })
            }
        } catch {
            return [ConformanceCase(name: "load failed: \(error)", template: "", context: .null, expectedOutput: nil,
                                    expectedError: nil, expectedSpans: nil)]
        }
    }
}

@Suite struct ConformanceTests {
    static let cases = ConformanceCase.load()

    @Test func corpusIsComplete() {
        #expect(Self.cases.count >= 600)
        #expect(Self.cases.allSatisfy { $0.expectedOutput != nil || $0.expectedError != nil }, "every case needs a golden")
    }

    @Test(arguments: cases)
    func matchesJinja2(_ c: ConformanceCase) {
        let options = RenderOptions.pinned(to: conformanceDate)
        let result: Result<RenderResult, TemplateError>
        do {
            let t = try Template(source: c.template, name: c.name)
            result = .success(try t.render(context: context(c.context), options: options))
        } catch {
            result = .failure(error)
        }
        switch (result, c.expectedOutput, c.expectedError) {
        case (.success(let r), let out?, _):
            #expect(r.text == out)
            if let spans = c.expectedSpans { #expect(r.generationSpans == spans) }
        case (.failure(let e), _, let cls?):
            #expect(e.pythonClassNames.contains(cls) || (cls == "SyntaxError" && e.kind == .syntax),
                    "jinja2 raised \(cls), we raised \(e.kind): \(e)")
        case (.success(let r), nil, let cls):
            Issue.record("jinja2 raised \(cls ?? "?"), we rendered \(r.text.debugDescription)")
        case (.failure(let e), let out, nil):
            Issue.record("jinja2 rendered \(out?.debugDescription ?? "?"), we raised \(e)")
        }
    }
}
