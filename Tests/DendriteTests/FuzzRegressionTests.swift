import Foundation
import Testing
@testable import Dendrite

/// Inputs that once crashed a reader (found by fuzzing or review); each must now be a thrown error.
@Suite struct FuzzRegressionTests {
    func safetensors(header: String, data: [UInt8] = []) -> [UInt8] {
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) } + Array(header.utf8) + data
    }

    /// Zero elements, so the offsets check passed, but Shape.count overflowed: "arithmetic overflow" trap.
    @Test func zeroElementShapeWithHugeDimensions() {
        let bytes = safetensors(header: #"{"t":{"dtype":"F32","shape":[2147483647,2147483647,2147483647,0],"data_offsets":[0,0]}}"#)
        #expect(throws: DendriteError.checkpoint(path: "f", problem:
            "tensor 't' has a shape [2147483647, 2147483647, 2147483647, 0] too large to address")) {
            try Safetensors.decode(bytes, path: "f")
        }
    }

    /// A checkpoint whose configuration disagrees with its tensors: `eval` would have built a zero-width layer
    /// (precondition failure) or tried to allocate a huge one.
    @Test(arguments: ["[0]", "[4000000000000]", "[3]"]) func configurationMustMatchTensors(hidden: String) {
        let configuration = #"{"activation":"relu","backend":"c","batchSize":2,"classes":2,"epochs":1,"hidden":\#(hidden),"#
            + #""initializer":"normal","inputs":2,"learningRate":0.1,"momentum":0,"optimizer":"adam","seed":1,"threads":1}"#
        let metadata = ["format": "dendrite-checkpoint-1", "configuration": configuration, "epoch": "0", "batch": "0",
                        "step": "0", "generator_state": "1,2,3,4"]
        let tensors = [("layers.1.weight", Tensor(zeros: Shape(2, 2))), ("layers.3.weight", Tensor(zeros: Shape(2, 2)))]
        do {
            _ = try Checkpoint.decode(Safetensors.encode(tensors, metadata: metadata), path: "f")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("does not match its tensor 'layers.1.weight'"), "\(error)")
        }
    }
}
