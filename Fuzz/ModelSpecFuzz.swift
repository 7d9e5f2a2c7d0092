// libFuzzer entry for the model-spec parsers, `--layers` text and model.json: any bytes must give a spec or a
// thrown DendriteError, never a crash. A spec that parses is validated against a small input, rendered back
// (text, JSON, summary), and a spec read from text must read the same from its own rendering.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelSpec(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let text = size == 0 ? "" : String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    for (spec, fromText) in [(try? ModelSpec(layersText: text), true), (try? ModelSpec(json: text, source: "fuzz"), false)] {
        guard let spec else { continue }
        _ = spec.json
        if let summary = try? ModelSummary(spec: spec, inputShape: [4, 4, 1], classes: 3) { _ = summary.render() }
        if fromText, let reparsed = try? ModelSpec(layersText: spec.layersText), reparsed != spec {
            fatalError("'\(text)' renders as '\(spec.layersText)', which parses to another spec")
        }
    }
    return 0
}
