import ChatFlowStorage

/// Every projection and every column family of a ChatFlow data directory, in one place.
///
/// A projection's rows live in `<name>.g<generation>`; a rebuild fills the next generation
/// and switches over by rewriting one row of `projection_generations`, so a rebuild that
/// fails half way leaves the live generation untouched.
public enum ProjectionCatalog {
    public static let all: [any Projection] = [
        ChatsProjection(),
        TimelineProjection(),
        UserIndexProjection(),
        ReactionsProjection(),
        SearchProjection(),
        ReadStateProjection(),
        ChatEventsProjection(),
    ]

    public static var names: [String] { all.map(\.name) }

    /// `name(utf8) → generation(4) ‖ version(4)`
    public static let generationsFamily = "projection_generations"

    /// The families opened with every data directory; projection generations are found on disk.
    public static let fixedFamilies = LogKeys.families + [generationsFamily]

    static func familyName(_ projection: String, generation: UInt32) -> String {
        "\(projection).g\(generation)"
    }

    /// Parses `<name>.g<generation>`.
    static func parseFamilyName(_ family: String) -> (projection: String, generation: UInt32)? {
        guard let dot = family.lastIndex(of: "."), family[family.index(after: dot)...].hasPrefix("g"),
              let generation = UInt32(family[family.index(dot, offsetBy: 2)...]) else { return nil }
        return (String(family[..<dot]), generation)
    }

    public static func projection(named name: String) -> (any Projection)? {
        all.first { $0.name == name }
    }
}
