import ByteJSON
import Foundation
import Testing
@testable import TrajForge

/// The schemas in schemas/ name exactly the codes the code can write.
@Suite struct SchemaTests {
    func schema(_ name: String) throws -> JSON {
        try JSON.parse(readBytes(Paths.repo.appendingPathComponent("schemas/" + name).path))
    }

    @Test func rejectReasonsMatchTheSchema() throws {
        let listed = try schema("reject.schema.json")["properties"]?["reason"]?["enum"]?.array?.compactMap(\.string) ?? []
        #expect(Set(listed) == Set(RejectReason.allCases.map(\.rawValue)))
    }

    @Test func pairDeviationKindsMatchTheSchema() throws {
        let listed = try schema("pairs.schema.json")["properties"]?["deviation"]?["properties"]?["kind"]?["enum"]?.array?.compactMap(\.string) ?? []
        #expect(Set(listed) == Set(Deviation.Kind.allCases.map(\.rawValue)))
    }
}
