import ChatFlowCore
import Foundation
import Synchronization

/// Keeps the projector from applying anything until `release()`, through
/// `Projector.exclusively` (what retention prunes under): a server whose projections are
/// behind the log at the start stays in its startup catch-up while this is held, however
/// fast the machine. Held from before the services start, nothing has been applied.
///
/// Release it before the server stops: the projector cannot stop in the middle of a batch.
final class CatchUpHold: Sendable {
    private let held = DispatchSemaphore(value: 0)
    private let go = DispatchSemaphore(value: 0)
    private let released = Atomic(false)

    /// Takes the projector's apply lock on a thread of its own; returns once it is held.
    func engage(_ projector: Projector) {
        Thread.detachNewThread { [self] in
            try? projector.exclusively {
                held.signal()
                go.wait()
            }
        }
        held.wait()
    }

    /// Lets the projector go on; later calls do nothing.
    func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { go.signal() }
    }
}
