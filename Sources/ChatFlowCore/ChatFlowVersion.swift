/// Which ChatFlow this is, as `chatflow --version`, `serve`'s first log line and the
/// `chatflow_build_info` metric say it: the release, and each projection's version, which
/// decides whether opening a data directory starts that projection again from the log.
public enum ChatFlowVersion {
    public static let release = "0.1.0"

    /// `chats 1, timeline 2, …`, in the catalog's order.
    public static var projections: String {
        ProjectionCatalog.all.map { "\($0.name) \($0.version)" }.joined(separator: ", ")
    }

    public static var description: String {
        "\(release) (projections: \(projections))"
    }
}
