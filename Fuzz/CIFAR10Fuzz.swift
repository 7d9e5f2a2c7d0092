// libFuzzer entry for the CIFAR-10 batch reader (plain and gzip): any bytes must give a result or a thrown
// DendriteError, never a crash. Built by Fuzz/run.sh together with the Dendrite sources it needs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCIFAR10(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? CIFAR10.parse(bytes, path: "fuzz")
    return 0
}
