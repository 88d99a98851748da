import ChatFlowStorage
import Dispatch
import Testing

@Suite(.timeLimit(.minutes(1))) struct PositionSignalTests {
    /// A waiter whose target is published from another thread while it is deciding to wait
    /// must still wake (read-your-writes depends on it: a missed wake-up hangs a request
    /// until some later write).
    /// Up to 5,000 turns, or as many as 15 s allow: on a machine busy with other tests, a
    /// turn waits for a free thread. A missed wake-up never returns, so the time limit
    /// fails it either way.
    @Test func aWaiterRacingThePublishOfItsTargetWakes() async {
        let signal = PositionSignal(ULID(high: 1, low: 0))
        let publisher = DispatchQueue(label: "publisher")
        let deadline = ContinuousClock.now + .seconds(15)
        var turns: UInt64 = 0
        while turns < 5_000 && ContinuousClock.now < deadline {
            turns += 1
            let target = ULID(high: 1, low: turns)
            publisher.async { signal.publish(target) }
            await signal.wait(reaching: target)
        }
        #expect(signal.position == ULID(high: 1, low: turns))
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
