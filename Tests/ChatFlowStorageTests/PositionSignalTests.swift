import ChatFlowStorage
import Dispatch
import Testing

@Suite(.timeLimit(.minutes(1))) struct PositionSignalTests {
    /// A waiter whose target is published from another thread while it is deciding to wait
    /// must still wake (read-your-writes depends on it: a missed wake-up hangs a request
    /// until some later write).
    @Test func aWaiterRacingThePublishOfItsTargetWakes() async {
        let signal = PositionSignal(ULID(high: 1, low: 0))
        let publisher = DispatchQueue(label: "publisher")
        for i in 1...5_000 {
            let target = ULID(high: 1, low: UInt64(i))
            publisher.async { signal.publish(target) }
            await signal.wait(reaching: target)
        }
        #expect(signal.position == ULID(high: 1, low: 5_000))
    }

    @Test func closingWakesWaitersForGood() async {
        let signal = PositionSignal()
        let waiter = Task { await signal.wait(reaching: ULID(high: 9, low: 9)) }
        signal.close()
        await waiter.value
        await signal.wait(after: nil)
        #expect(signal.isClosed)
    }
}
