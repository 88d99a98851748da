import ChatFlowCore

/// What keeps the server from being ready: projections behind the change log.
struct Readiness: Sendable {
    func problem(projector: Projector) -> String? {
        projector.isCaughtUp ? nil : "projections are catching up with the change log"
    }
}
