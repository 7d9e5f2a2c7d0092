// libFuzzer entry for a checkpoint's metadata fields, past the checksums that stop the safetensors target's
// mutations at the door: the input, split at 0 bytes, gives the configuration JSON, epoch, batch, step and
// generator state of a file written with valid checksums around the tensors of a small model. Decoding it and
// checking its position against data (as --resume does) must succeed or throw a DendriteError, never crash.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpointMetadata(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let fields = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    guard fields.count == 5 else { return 0 }
    let metadata = ["format": Checkpoint.format, "configuration": fields[0], "epoch": fields[1], "batch": fields[2],
                    "step": fields[3], "generator_state": fields[4]]
    let file = Safetensors.encode(tensors, metadata: metadata)
    if let checkpoint = try? Checkpoint.decode(file, path: "fuzz") {
        _ = try? ResumePoint.check(checkpoint, path: "fuzz", trainingImages: 10, batchSize: 4)
    }
    return 0
}

/// The tensors of `dense 2, relu, dense 3` on 2×2 inputs (the seed's configuration), and their Adam moments.
private let tensors: [(name: String, tensor: Tensor)] = {
    let shapes = [("layers.0.weight", Shape(4, 2)), ("layers.0.bias", Shape([2])), ("layers.2.weight", Shape(2, 3)),
                  ("layers.2.bias", Shape([3]))]
    return shapes.flatMap { name, shape in
        ["", "adam.m.", "adam.v."].map { ("\($0)\(name)", Tensor(zeros: shape)) }
    }
}()
