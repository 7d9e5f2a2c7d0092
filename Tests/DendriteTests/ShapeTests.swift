import Testing
@testable import Dendrite

@Suite struct ShapeTests {
    @Test func matrixViewOfHigherRank() {
        let shape = Shape([5, 28, 28])
        #expect(shape.count == 3920)
        #expect(shape.rows == 5)
        #expect(shape.cols == 784)
        #expect(shape == Shape([5, 28, 28]))
        #expect(shape != Shape(5, 784))
        #expect(Shape.scalar.count == 1)
    }
}
