import ByteJSON
import Testing
@testable import Jinja

/// The tojson memo (`RenderOptions.cache`) must never change output.
@Suite struct RenderCacheTests {
    @Test func cachedTojsonEqualsUncached() throws {
        let t = try Template(source: #"{% for x in items %}{{ x | tojson(indent=2) }}|{{ 'k=' ~ (x | tojson) }}|{% endfor %}"#)
        let a = try JSON.parse(#"{"b": [1, 2.0, null], "a": "é\n"}"#)
        let b = try JSON.parse(#"{"b": [1, 2.0, null], "a": "other"}"#)
        let items: Value = .list([Value(json: a), Value(json: b), Value(json: a)])
        let plain = try t.render(["items": items])
        let cache = RenderCache()
        let options = RenderOptions(cache: cache)
        #expect(try t.render(["items": items], options: options) == plain)
        // Again, now from the cache; a different dict with the same shape must not collide.
        #expect(try t.render(["items": items], options: options) == plain)
        let other: Value = .list([Value(json: b)])
        #expect(try t.render(["items": other], options: options) == (try t.render(["items": other])))
    }

    @Test func tinyCacheStillRendersCorrectly() throws {
        let t = try Template(source: #"{% for x in items %}{{ x | tojson }}{% endfor %}"#)
        let items: Value = .list((0..<50).map { Value(json: ["n": .number(JSONNumber($0))]) })
        let options = RenderOptions(cache: RenderCache(limit: 3))
        #expect(try t.render(["items": items], options: options) == (try t.render(["items": items])))
    }

    @Test func growingCacheSharedByTwoTemplates() throws {
        // Thousands of dicts (the table grows and empties itself at its limit), two templates with
        // different tojson options on one cache, and each render's output as without a cache.
        let a = try Template(source: #"{% for x in items %}{{ x | tojson }};{{ x | tojson(indent=1) }}{% endfor %}"#)
        let b = try Template(source: #"{% for x in items %}{{ x | tojson(sort_keys=true) }}{% endfor %}"#)
        let items: Value = .list((0..<3000).map { Value(json: ["z": .number(JSONNumber($0)), "a": .string("\($0 % 7)")]) })
        let cache = RenderCache(limit: 2000)
        for _ in 0..<2 {
            #expect(try a.render(["items": items], options: RenderOptions(cache: cache)) == (try a.render(["items": items])))
            #expect(try b.render(["items": items], options: RenderOptions(cache: cache)) == (try b.render(["items": items])))
        }
    }
}
