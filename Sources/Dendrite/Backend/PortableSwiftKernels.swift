import SwiftKernels

// Alone in its file: here `SwiftKernels` names the portable module's namespace without ambiguity.
extension SwiftKernels: SwiftKernelSet {}
extension SwiftKernels.Window: KernelWindow {}
typealias PortableSwiftKernels = SwiftKernels
