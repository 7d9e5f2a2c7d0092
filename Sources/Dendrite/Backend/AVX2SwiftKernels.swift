import SwiftKernelsAVX2

// Alone in its file: here `SwiftKernels` names the AVX2 module's namespace without ambiguity.
extension SwiftKernels: SwiftKernelSet {}
extension SwiftKernels.Window: KernelWindow {}
typealias AVX2SwiftKernels = SwiftKernels
