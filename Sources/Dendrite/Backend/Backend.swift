/// The kernels a model runs on, by concern: products (``GEMMKernels``), elementwise work and reductions
/// (``ElementwiseKernels``), losses (``LossKernels``), parameter updates (``OptimizerKernels``), batches
/// (``DataKernels``), convolutions and pooling (``ConvolutionKernels``) and dropout
/// (``RegularizationKernels``). Every kernel works on raw row-major buffers with the contracts of
/// `CKernels/include/CKernels.h` (outputs first, sizes explicit, no allocation).
///
/// A complete kernel set fills every concern (the C kernels, the Swift kernels); a library that brings
/// only a GEMM is combined with another backend by ``init(name:gemm:base:)``. Pick one by name with
/// ``Backends/named(_:)``. Threads are a process-wide setting: ``Threads``.
public final class Backend: Sendable {
    /// The name users pass to `--backend` and `DENDRITE_BACKEND`.
    public let name: String
    public let gemm: any GEMMKernels
    public let elementwise: any ElementwiseKernels
    public let losses: any LossKernels
    public let optimizers: any OptimizerKernels
    public let data: any DataKernels
    public let convolution: any ConvolutionKernels
    public let regularization: any RegularizationKernels
    /// The code path the kernels run, for reports.
    public let instructionSet: String

    /// A backend whose every concern comes from one kernel set.
    public init(name: String, kernels: some KernelSet, instructionSet: String) {
        self.name = name
        gemm = kernels
        elementwise = kernels
        losses = kernels
        optimizers = kernels
        data = kernels
        convolution = kernels
        regularization = kernels
        self.instructionSet = instructionSet
    }

    /// `base` with its products (the dense layers' too) taken from `gemm`.
    public init(name: String, gemm: any GEMMKernels, base: Backend) {
        self.name = name
        self.gemm = gemm
        elementwise = base.elementwise
        losses = base.losses
        optimizers = base.optimizers
        data = base.data
        convolution = base.convolution
        regularization = base.regularization
        instructionSet = "\(gemm.instructionSet) for products, \(base.instructionSet) for the rest"
    }
}

/// Every concern at once: what a complete kernel set (the C kernels, a Swift build) provides.
public typealias KernelSet = GEMMKernels & ElementwiseKernels & LossKernels & OptimizerKernels & DataKernels
    & ConvolutionKernels & RegularizationKernels
