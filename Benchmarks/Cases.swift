import Foundation

/// Every case of a run, in the order they run and print.
enum Cases {
    static func all(quick: Bool) -> [BenchCase] {
        MatmulCases.all(quick: quick) + ConvCases.all(quick: quick) + KernelCases.all(quick: quick)
            + TrainingCases.all(quick: quick)
    }

    /// Case-insensitive substring match; "x" matches the "×" of shapes, so 128x784 can be typed.
    static func matches(_ benchCase: BenchCase, filter: String?) -> Bool {
        guard let filter, !filter.isEmpty else { return true }
        func normal(_ s: String) -> String { s.lowercased().replacingOccurrences(of: "×", with: "x") }
        return normal(benchCase.name).contains(normal(filter)) || normal(benchCase.group).contains(normal(filter))
    }
}
