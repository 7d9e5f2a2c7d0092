import SwiftKernels

// Alone in its file: here `SwiftKernels` names the portable module's namespace without ambiguity.
extension SwiftKernels: SwiftKernelSet {}
typealias PortableSwiftKernels = SwiftKernels
