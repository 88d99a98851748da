import Benchmark
import ChatFlowCore
import ChatFlowStorage

func codecBenchmarks() {
    let message = EventEnvelope(
        actor: UserID(unchecked: "alice"),
        event: .messagePosted(.init(
            chat: ChatID(ULID(timestamp: 1_700_000_000_000, randomHigh: 1, randomLow: 2)),
            content: "the deploy of v2.14.3 is done, latency p99 back under 5 ms — thanks everyone 🎉",
            type: .text)))
    let reaction = EventEnvelope(
        actor: UserID(unchecked: "bob"),
        event: .reactionAdded(.init(
            chat: ChatID(ULID(timestamp: 1_700_000_000_000, randomHigh: 1, randomLow: 2)),
            message: MessageID(ULID(timestamp: 1_700_000_000_001, randomHigh: 3, randomLow: 4)),
            emoji: "👍")))

    Benchmark("EventCodec.encode message") { benchmark in
        var buffer: [UInt8] = []
        for _ in benchmark.scaledIterations {
            buffer.removeAll(keepingCapacity: true)
            EventCodec.encode(message, into: &buffer)
            blackHole(buffer)
        }
    }

    let encodedMessage = EventCodec.encode(message)
    Benchmark("EventCodec.decode message") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try EventCodec.decode(encodedMessage))
        }
    }

    let encodedReaction = EventCodec.encode(reaction)
    Benchmark("EventCodec.decode reaction") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try EventCodec.decode(encodedReaction))
        }
    }
}
