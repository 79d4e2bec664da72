// Errors carry a kind, the template name and a line:column.

import Jinja
import Testing

@Suite struct ErrorTests {
    func error(_ source: String, _ ctx: [String: Value] = [:], name: String = "t.jinja") -> TemplateError? {
        do {
            _ = try Template(source: source, name: name).render(context: ctx)
            return nil
        } catch {
            return error
        }
    }

    @Test func syntaxErrorLocation() throws {
        let e = try #require(error("line one\n  {% if x %}\n  {{ 1 + }}\n{% endif %}", name: "xLAM.jinja"))
        #expect(e.kind == .syntax)
        #expect(e.templateName == "xLAM.jinja")
        #expect(e.line == 3)
        #expect(e.column == 10)
        #expect(e.description.hasPrefix("template xLAM.jinja:3:10: "))
    }

    @Test func unknownTagAndUnclosedBlock() throws {
        let e1 = try #require(error("ok\n{% frobnicate %}"))
        #expect(e1.kind == .syntax && e1.line == 2)
        #expect(e1.message.contains("unknown tag 'frobnicate'"))
        let e2 = try #require(error("{% for x in y %}\nbody\n"))
        #expect(e2.kind == .syntax)
        #expect(e2.message.contains("endfor"))
    }

    @Test func runtimeErrorLocation() throws {
        let src = "{% for m in messages %}\n{{ m.content + 1 }}\n{% endfor %}"
        let e = try #require(error(src, ["messages": [["content": "x"]]]))
        #expect(e.kind == .type)
        #expect(e.line == 2)
        #expect(e.column == 4)
        #expect(e.message.contains("can only concatenate str"))
    }

    @Test func undefinedErrorNamesTheExpression() throws {
        let e = try #require(error("\n\n   {{ message.content + 'x' }}", ["message": ["role": "user"]]))
        #expect(e.kind == .undefined)
        #expect(e.line == 3)
        #expect(e.message.contains("message.content"))
        let e2 = try #require(error("{{ foo.bar }}"))
        #expect(e2.kind == .undefined)
        #expect(e2.message.contains("foo"))
    }

    @Test func raiseExceptionCarriesTheMessage() throws {
        let src = "{% if messages|length != 1 %}\n  {{ raise_exception('Only one message, got ' ~ messages|length) }}\n{% endif %}"
        let e = try #require(error(src, ["messages": [1, 2]]))
        #expect(e.kind == .raised)
        #expect(e.message == "Only one message, got 2")
        #expect(e.line == 2)
        #expect(e.pythonClassNames == ["TemplateError"])
    }

    @Test func securityErrors() throws {
        #expect(error("{{ ''.__class__.__mro__ }}")?.kind == .security)
        #expect(error("{{ [1].append(2) }}")?.kind == .security)
        #expect(error("{% set ns = namespace() %}{% set ns._x = 1 %}")?.kind == .security)
        // Reading an unsafe attribute without using it prints nothing, as in jinja2.
        #expect(try Template(source: "[{{ ''.__class__ }}]").render([:]) == "[]")
    }

    @Test func unknownFilterIsACompileError() throws {
        do {
            _ = try Template(source: "a\n{{ x|nosuch }}", name: "f.jinja")
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .syntax)
            #expect(error.line == 2)
            #expect(error.message == "No filter named 'nosuch'.")
        }
    }

    @Test func unsupportedFeaturesSaySo() {
        #expect(error("{% call m() %}x{% endcall %}")?.kind == .unsupported)
        #expect(error("{% block b %}x{% endblock %}")?.kind == .unsupported)
        #expect(error("{% for x in xs recursive %}{% endfor %}")?.kind == .unsupported)
        #expect(error("{{ [1, 2]|random }}")?.kind == .unsupported)
        #expect(error("{{ lipsum() }}")?.kind == .unsupported)
        #expect(error("{{ 2 ** 64 }}")?.kind == .arithmetic)
    }
}
