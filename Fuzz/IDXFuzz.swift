// libFuzzer entry for the IDX reader (plain and gzip): any bytes must give a result or a thrown
// DendriteError, never a crash. Built by Fuzz/run.sh together with the Dendrite sources it needs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    // Both shapes the CLI reads: idx3 images and idx1 labels.
    for dimensions in [3, 1] {
        _ = try? IDX.parse(bytes, path: "fuzz", expectedDimensions: dimensions, kind: "fuzz")
    }
    return 0
}
