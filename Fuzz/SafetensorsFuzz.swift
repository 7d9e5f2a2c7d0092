// libFuzzer entry for the safetensors reader and the checkpoint metadata parser behind --resume:
// any bytes must give a result or a thrown DendriteError, never a crash.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? Safetensors.decode(bytes, path: "fuzz")
    _ = try? Checkpoint.decode(bytes, path: "fuzz")
    return 0
}
