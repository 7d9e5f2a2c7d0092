import SwiftKernelsAVX512

// Alone in its file: here `SwiftKernels` names the AVX-512 module's namespace without ambiguity.
extension SwiftKernels: SwiftKernelSet {}
extension SwiftKernels.Window: KernelWindow {}
typealias AVX512SwiftKernels = SwiftKernels
