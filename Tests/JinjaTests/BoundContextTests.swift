import ByteJSON
import Testing
@testable import Jinja

/// A bound context renders exactly as the dictionary it was bound from, with any names set later.
@Suite struct BoundContextTests {
    @Test func boundRendersLikeTheDictionary() throws {
        let t = try Template(source: "{{ bos_token }}{% for m in messages %}[{{ m }}]{% endfor %}{% if add_generation_prompt %}>{% endif %}{{ missing }}|{{ range(2) | list }}")
        var context: [String: Value] = ["bos_token": .string("<s>"), "messages": .list([.string("a")]),
                                        "add_generation_prompt": .bool(false), "unused": .int(1)]
        var bound = t.bind(context)
        #expect(bound.slot(of: "unused") == nil)
        #expect(bound.slot(of: "range") != nil)  // a builtin the template reads
        #expect(try t.renderUTF8(bound: bound).bytes == (try t.renderUTF8(context: context).bytes))

        // Change two names, as the render stage does per turn.
        bound.set(slot: try #require(bound.slot(of: "messages")), .list([.string("a"), .string("b")]))
        bound.set(slot: try #require(bound.slot(of: "add_generation_prompt")), .bool(true))
        context["messages"] = .list([.string("a"), .string("b")])
        context["add_generation_prompt"] = .bool(true)
        let text = String(decoding: try t.renderUTF8(bound: bound).bytes, as: UTF8.self)
        #expect(text == "<s>[a][b]>|[0, 1]")
        #expect(text == (try t.render(context)))
    }

    /// The output goes into the result's own storage when it fits the expected size, and moves
    /// out when it does not; either way the bytes (and errors, and generation spans) are the same.
    @Test func outputOfAnySizeWhateverTheExpectedSize() throws {
        let t = try Template(source: "{% for i in range(n) %}{% generation %}ab{{ i }}{% endgeneration %}{% endfor %}{% if fail %}{{ raise_exception('no') }}{% endif %}")
        let reference = try t.renderUTF8(context: ["n": .int(3000), "fail": .bool(false)])
        for expected in [0, 16, 255, 256, reference.bytes.count - 1, reference.bytes.count, reference.bytes.count + 1, 1 << 20] {
            var options = RenderOptions()
            options.expectedOutputBytes = expected
            let r = try t.renderUTF8(context: ["n": .int(3000), "fail": .bool(false)], options: options)
            #expect(r.bytes == reference.bytes)
            #expect(r.generationSpans == reference.generationSpans)
            #expect(throws: TemplateError.self) { try t.renderUTF8(context: ["n": .int(3000), "fail": .bool(true)], options: options) }
        }
    }
}
