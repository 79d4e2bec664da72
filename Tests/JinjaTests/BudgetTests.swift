// The budget stops runaway templates with a clear error instead of hanging or crashing.

import ByteJSON
import Foundation
import Jinja
import Testing

@Suite struct BudgetTests {
    func render(_ source: String, _ ctx: [String: Value] = [:], budget: Budget = .default) throws -> String {
        try Template(source: source, name: "budget.jinja").render(context: ctx, options: RenderOptions(budget: budget)).text
    }

    func expectKind(_ kind: TemplateError.Kind, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected a \(kind) error")
        } catch let e as TemplateError {
            #expect(e.kind == kind, "\(e)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func infiniteMacroRecursionStops() {
        expectKind(.recursionLimit) {
            _ = try render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")
        }
    }

    @Test func recursionDepthIsConfigurable() throws {
        let src = "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% else %}done{% endif %}{% endmacro %}{{ f(depth) }}"
        #expect(try render(src, ["depth": 198]) == "done")  // Python jinja2 manages 199 nested calls too
        expectKind(.recursionLimit) { _ = try render(src, ["depth": 199]) }
        expectKind(.recursionLimit) { _ = try render(src, ["depth": 10], budget: Budget(maxCallDepth: 5)) }
        // Deeper recursion is allowed when the budget (and the thread's stack) permit it.
        let template = try Template(source: src)
        let deep = onThread(stackSize: 256 << 20) {
            Result { () throws(TemplateError) -> String in
                try template.render(["depth": 1000], options: RenderOptions(budget: Budget(maxCallDepth: 2000, maxStackBytes: 200 << 20)))
            }
        }
        #expect(try deep?.get() == "done")
    }

    @Test func deepRecursionOnASmallThreadStackFailsCleanly() throws {
        // 256 KiB of stack and no depth limit: the stack guard must stop the render before the
        // thread overflows.
        let src = "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% else %}done{% endif %}{% endmacro %}{{ f(5000) }}"
        let template = try Template(source: src)
        let result = onThread(stackSize: 256 * 1024) {
            Result { () throws(TemplateError) -> String in
                try template.render([:], options: RenderOptions(budget: Budget(maxCallDepth: 100_000)))
            }
        }
        guard case .failure(let e)? = result else {
            Issue.record("expected a recursion error, got \(String(describing: result))")
            return
        }
        #expect(e.kind == .recursionLimit)
    }

    @Test func hermesToolUseTemplateOnNullableUnionStops() throws {
        // jinja2 raises RecursionError on this schema: json_to_python_type iterates the
        // characters of "null" forever.
        let source = try readText(Paths.templates.appendingPathComponent("Hermes-2-Pro-Llama-3-8B.tool_use.jinja"))
        let tools = try JSON.parse("""
            [{"type": "function", "function": {"name": "f", "description": "d",
              "parameters": {"type": "object", "properties": {"x": {"type": ["string", "null"], "description": "x"}}}}}]
            """)
        let ctx: [String: Value] = ["tools": Value(json: tools), "messages": [["role": "user", "content": "hi"]],
                                    "bos_token": "<|begin_of_text|>", "add_generation_prompt": true]
        let t = try Template(source: source, name: "hermes.jinja")
        do {
            _ = try t.render(context: ctx)
            Issue.record("expected a recursion error")
        } catch {
            #expect(error.kind == .recursionLimit)
            #expect(error.templateName == "hermes.jinja")
            #expect(error.line > 0)
        }
    }

    @Test func loopLimit() throws {
        let src = "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"
        expectKind(.loopLimit) { _ = try render(src, budget: Budget(maxLoopIterations: 10_000)) }
        #expect(try render("{% for i in range(100) %}{% endfor %}ok", budget: Budget(maxLoopIterations: 100)) == "ok")
        expectKind(.loopLimit) { _ = try render("{% for i in range(101) %}{% endfor %}", budget: Budget(maxLoopIterations: 100)) }
    }

    @Test func outputLimit() throws {
        let budget = Budget(maxOutputBytes: 1000)
        #expect(try render("{% for i in range(10) %}{{ 'x' * 100 }}{% endfor %}", budget: budget).count == 1000)
        expectKind(.outputLimit) { _ = try render("{% for i in range(11) %}{{ 'x' * 100 }}{% endfor %}", budget: budget) }
        expectKind(.outputLimit) { _ = try render("{{ 'x' * 1001 }}", budget: budget) }
        expectKind(.outputLimit) { _ = try render("{{ 'x' * 10000000000000 }}") }
        expectKind(.outputLimit) { _ = try render("{{ [1] * 100000000000 }}") }
        // Captured output (macros, set blocks) counts too.
        expectKind(.outputLimit) {
            _ = try render("{% set s %}{% for i in range(20) %}{{ 'y' * 100 }}{% endfor %}{% endset %}", budget: budget)
        }
        // Doubling a string in a loop is caught before it grows without bound.
        expectKind(.outputLimit) {
            _ = try render("{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}")
        }
    }

    @Test func deeplyNestedValuesDoNotCrash() throws {
        let src = "{% set ns = namespace(v=[]) %}{% for i in range(3000) %}{% set ns.v = [ns.v] %}{% endfor %}{{ ns.v|tojson }}"
        expectKind(.recursionLimit) { _ = try render(src) }
        let src2 = "{% set ns = namespace(v=[]) %}{% for i in range(3000) %}{% set ns.v = [ns.v] %}{% endfor %}{{ ns.v }}"
        expectKind(.recursionLimit) { _ = try render(src2) }
    }

    @Test func deeplyNestedSyntaxIsASyntaxError() {
        let deep = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        expectKind(.syntax) { _ = try render("{{ \(deep) }}") }
        let blocks = String(repeating: "{% if true %}", count: 3000) + String(repeating: "{% endif %}", count: 3000)
        expectKind(.syntax) { _ = try render(blocks) }
    }
}
