/// Words for synthetic messages: everyday chat English with a Zipf-like skew (common words
/// repeat, rare ones make search selective), some accented words to exercise folding, and
/// ticket codes and links like the ones teams paste into chats.
enum Vocabulary {
    static let common: [String] = """
    the to and a i you it is that of in for on we this be have are can just do not with \
    so but at was what it's me my if will all about get up out no there yes like they \
    ok okay know think now going one can't don't thanks sure time good today see here \
    would let's when how then should need did got back tomorrow meeting call later need \
    please could work check great new make still also want maybe really right after been \
    more some any look build deploy review issue fixed test tests release branch merge \
    main server client api latency cache queue database index query log logs error \
    errors crash restart config prod staging metrics dashboard alert page ticket sprint \
    standup lunch coffee weekend monday friday morning afternoon tonight soon done \
    working blocked ready shipped rollback hotfix patch version update upgrade docs \
    design spec draft feedback plan estimate team customer support question answer \
    thread channel message reply link file image screenshot video slides notes agenda
    """.split(separator: " ").map(String.init).filter { !$0.isEmpty && $0 != "\n" }

    static let rare: [String] = """
    café résumé naïve façade jalapeño über coöperate déjà São Zürich Kraków Ærøskøbing \
    kubernetes terraform grafana prometheus rocksdb postgres hummingbird websocket \
    p99 throughput backpressure idempotency compaction tombstone snapshot checkpoint \
    PLT-3699 OPS-142 INC-2071 SEC-88 https://status.example.com/incidents/42 \
    https://github.com/example/repo/pull/1187 v2.14.3 10.0.3.17 2026-11-25
    """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init).filter { !$0.isEmpty }

    static let emoji = ["👍", "❤️", "😂", "🎉", "👀", "🚀", "🙏", "🔥", "✅", "😮"]
}
