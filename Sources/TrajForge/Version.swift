/// trajforge's version, written into manifests and provenance records.
public enum TrajForgeVersion {
    public static let string = "0.1.0"
}
