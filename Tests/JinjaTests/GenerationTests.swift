// {% generation %} spans: UTF-8 byte ranges of the rendered text.

import Jinja
import Testing

@Suite struct GenerationTests {
    @Test func spansAreUTF8ByteRanges() throws {
        let t = try Template(source: "{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}")
        let r = try t.render(context: ["messages": [["role": "user", "content": "héllo"], ["role": "assistant", "content": "wörld 😀"],
                                                    ["role": "assistant", "content": ""]]])
        #expect(r.text == "<user>héllo<assistant>wörld 😀<assistant>")
        let bytes = Array(r.text.utf8)
        #expect(r.generationSpans.count == 2)
        #expect(String(decoding: bytes[r.generationSpans[0]], as: UTF8.self) == "wörld 😀")
        #expect(r.generationSpans[1].isEmpty && r.generationSpans[1].lowerBound == bytes.count)
    }

    @Test func generationBodyHasItsOwnScope() throws {
        let t = try Template(source: "{% set x = 1 %}{% generation %}{% set x = 2 %}{{ x }}{% endgeneration %}{{ x }}")
        #expect(try t.render([:]) == "21")
    }
}
