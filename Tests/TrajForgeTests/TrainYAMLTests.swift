import ByteJSON
import Testing
@testable import TrajForge

@Suite struct TrainYAMLTests {
    @Test func stringsThatLoadersWouldRetypeAreQuoted() {
        // YAML 1.1 booleans and null, numbers, leading digits, specials: quoted.
        for s in ["yes", "No", "on", "OFF", "y", "true", "null", "~", "", "8b", "1e5", "5e-06", "0x1F", "1_000", ".5", ".inf", ".NaN",
                  "-1", "a: b", "#x", "a #b", "<|end_of_text|>", "*ref", "&a", "!tag", "{x}", "[x]", "a,b", "%x", "@x", "`x", "it's", "x\ny"] {
            #expect(!YAMLWriter.isPlainSafe(s), "\(s) must be quoted")
            #expect(YAMLWriter.scalar(.string(s)).hasPrefix("\""), "\(s)")
        }
        for s in ["cosine", "adamw_torch", "meta-llama/Llama-3.1-8B-Instruct", "configs/8b/deepspeed/ds_z3.json", "xlam2_sft", "fa2",
                  "flash_attention_2", "/abs/path", ".build-gpu/x", "bf16", "DEEPSPEED", "LOCAL_MACHINE", "llama3"] {
            #expect(YAMLWriter.isPlainSafe(s), "\(s) can stay plain")
            #expect(YAMLWriter.scalar(.string(s)) == s)
        }
        #expect(YAMLWriter.scalar(.string("a \"b\"\n")) == #""a \"b\"\n""#)
    }

    @Test func floatsKeepADotSoPyYAMLReadsFloats() {
        #expect(YAMLWriter.scalar(JSON.number(JSONNumber(5e-6)!)) == "5.0e-06")
        #expect(YAMLWriter.scalar(JSON.number(JSONNumber(1e-6)!)) == "1.0e-06")
        #expect(YAMLWriter.scalar(JSON.number(JSONNumber(1.5e-5)!)) == "1.5e-05")
        #expect(YAMLWriter.scalar(JSON.number(JSONNumber(1e16)!)) == "1.0e+16")
        #expect(YAMLWriter.scalar(JSON.number(JSONNumber(0.01)!)) == "0.01")
        #expect(YAMLWriter.scalar(JSON.number(JSONNumber(3.0)!)) == "3.0")
        #expect(YAMLWriter.scalar(JSON.number(JSONNumber(48))) == "48")
        #expect(YAMLWriter.scalar(.bool(true)) == "true")
        #expect(YAMLWriter.scalar(.null) == "null")
    }

    @Test func documentLayout() {
        let doc = YAMLWriter.document(
            header: ["title", "", "more"],
            entries: [
                YAMLEntry("stage", .string("sft")),
                YAMLEntry("learning_rate", .double(5e-6), comment: "default: ActionStudio"),
                YAMLEntry("datasets", .sequence([.mapping([
                    YAMLEntry("path", .string("data/x.jsonl")),
                    YAMLEntry("roles", .strings(["assistant"]), comment: "paper"),
                    YAMLEntry("inner", .mapping([YAMLEntry("a", .int(1))])),
                ])])),
                YAMLEntry("empty_list", .sequence([])),
                YAMLEntry("empty_map", .mapping([])),
                YAMLEntry("nested", .mapping([YAMLEntry("pad_token", .string("<|end_of_text|>"))]), comment: "why"),
            ],
            sections: ["datasets": "data"])
        let want = """
            # title
            #
            # more
            stage: sft
            learning_rate: 5.0e-06  # default: ActionStudio

            ### data
            datasets:
              - path: data/x.jsonl
                roles:  # paper
                  - assistant
                inner:
                  a: 1
            empty_list: []
            empty_map: {}
            nested:  # why
              pad_token: "<|end_of_text|>"

            """
        #expect(doc == want)
    }
}
