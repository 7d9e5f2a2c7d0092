// Batch normalization on every backend against a Double reference: training (batch statistics,
// moving averages updated, forward and backward) and evaluation (moving averages), over features
// (N, F) and over channels (N, H, W, C), channels not a multiple of 8, batch 1 spatially.

import Dendrite
import Foundation
import Testing

@Suite("BatchNorm against a Double reference")
struct BatchNormTests {
    static let shapes = [Shape(6, 13), Shape(2, 3, 5, 11), Shape(1, 4, 4, 7)]

    @Test(arguments: TestBackends.all, shapes)
    func training(backendName: String, shape: Shape) throws {
        let backend = try makeBackend(backendName)
        let channels = shape[shape.rank - 1], rows = shape.count / channels
        let xs = randomFloats(shape.count, seed: seed(31, shape.count), in: -2...3)
        let gs = randomFloats(channels, seed: 32, in: 0.5...1.5), bs = randomFloats(channels, seed: 33)
        let x = Variable(Tensor(shape: shape, values: xs), requiresGrad: true)
        let gamma = Variable(Tensor(shape: Shape([channels]), values: gs), requiresGrad: true)
        let beta = Variable(Tensor(shape: Shape([channels]), values: bs), requiresGrad: true)
        let movingMean = Variable(Tensor(zeros: Shape([channels])))
        let movingVariance = Variable(Tensor(shape: Shape([channels]), values: [Float](repeating: 1, count: channels)))
        let got = runWithRandomCotangent(backend, inputs: [x, gamma, beta], seed: 34) { tape in
            tape.batchNorm(x, gamma: gamma, beta: beta, movingMean: movingMean, movingVariance: movingVariance,
                           momentum: 0.9, epsilon: 1e-3)
        }
        var mean = [Double](repeating: 0, count: channels), variance = mean
        for i in 0..<xs.count { mean[i % channels] += Double(xs[i]) / Double(rows) }
        for i in 0..<xs.count { variance[i % channels] += pow(Double(xs[i]) - mean[i % channels], 2) / Double(rows) }
        let invstd = variance.map { 1 / ($0 + 1e-3).squareRoot() }
        let xhat = (0..<xs.count).map { (Double(xs[$0]) - mean[$0 % channels]) * invstd[$0 % channels] }
        var dgamma = [Double](repeating: 0, count: channels), dbeta = dgamma
        for i in 0..<xs.count {
            dbeta[i % channels] += Double(got.r[i])
            dgamma[i % channels] += Double(got.r[i]) * xhat[i]
        }
        let out = (0..<xs.count).map { xhat[$0] * Double(gs[$0 % channels]) + Double(bs[$0 % channels]) }
        let dx = (0..<xs.count).map { i -> Double in
            let c = i % channels
            return Double(gs[c]) * invstd[c] * (Double(got.r[i]) - dbeta[c] / Double(rows) - xhat[i] * dgamma[c] / Double(rows))
        }
        let what = "batchnorm[\(backendName)]", shapeText = "\(shape)"
        expectClose(got.out, out, atol: 1e-5, rtol: 1e-5, what + " forward", shape: shapeText)
        expectClose(got.grads[0], dx, atol: 1e-4, rtol: 1e-4, what + " dx", shape: shapeText)
        expectClose(got.grads[1], dgamma, atol: 1e-5, rtol: 1e-5, what + " dgamma", shape: shapeText)
        expectClose(got.grads[2], dbeta, atol: 1e-5, rtol: 1e-5, what + " dbeta", shape: shapeText)
        expectClose(movingMean.value.scalars, mean.map { 0.1 * $0 }, atol: 1e-6, rtol: 1e-5, what + " moving mean",
                    shape: shapeText)
        expectClose(movingVariance.value.scalars, variance.map { 0.9 + 0.1 * $0 }, atol: 1e-6, rtol: 1e-5,
                    what + " moving variance", shape: shapeText)
    }

    /// In evaluation the moving statistics normalize, and they do not move.
    @Test(arguments: TestBackends.all)
    func evaluation(backendName: String) throws {
        let backend = try makeBackend(backendName)
        let shape = Shape(3, 2, 2, 5), channels = 5
        let xs = randomFloats(shape.count, seed: 35)
        let gs = randomFloats(channels, seed: 36), bs = randomFloats(channels, seed: 37)
        let ms = randomFloats(channels, seed: 38), vs = randomFloats(channels, seed: 39, in: 0.5...2)
        let tape = Tape(backend: backend)
        tape.isRecording = false
        let movingMean = Variable(Tensor(shape: Shape([channels]), values: ms))
        let movingVariance = Variable(Tensor(shape: Shape([channels]), values: vs))
        let out = tape.batchNorm(Variable(Tensor(shape: shape, values: xs)),
                                 gamma: Variable(Tensor(shape: Shape([channels]), values: gs)),
                                 beta: Variable(Tensor(shape: Shape([channels]), values: bs)),
                                 movingMean: movingMean, movingVariance: movingVariance, momentum: 0.99, epsilon: 1e-3)
        let expected = (0..<xs.count).map { i -> Double in
            let c = i % channels
            return (Double(xs[i]) - Double(ms[c])) / (Double(vs[c]) + 1e-3).squareRoot() * Double(gs[c]) + Double(bs[c])
        }
        expectClose(out.value.scalars, expected, atol: 1e-5, rtol: 1e-5, "batchnorm eval[\(backendName)]", shape: "\(shape)")
        #expect(movingMean.value.scalars == ms && movingVariance.value.scalars == vs)
    }
}
