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
}
