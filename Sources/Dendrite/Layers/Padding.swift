/// How a convolution or pooling window treats the image's border, as in Keras: `valid` uses only
/// windows that fit; `same` pads so the output is ⌈size / stride⌉ (the extra row or column, when
/// the padding is odd, goes below and to the right); `explicit(rows, cols)` pads each side by that
/// many rows and columns. Convolutions pad with zeros; pools leave padding out of their windows.
public enum Padding: Equatable, Sendable {
    case valid, same
    case explicit(rows: Int, cols: Int)

    /// Padding before the input and the output size, along the rows (`vertical`) or the columns.
    func resolve(size: Int, kernel: Int, stride: Int, vertical: Bool) -> (before: Int, output: Int) {
        switch self {
        case .valid:
            return (0, size >= kernel ? (size - kernel) / stride + 1 : 0)
        case .same:
            let output = (size + stride - 1) / stride
            return (max((output - 1) * stride + kernel - size, 0) / 2, output)
        case .explicit(let rows, let cols):
            let pad = vertical ? rows : cols, padded = size + 2 * pad
            return (pad, padded >= kernel ? (padded - kernel) / stride + 1 : 0)
        }
    }

    /// The text form: "valid", "same", "1" (rows = cols) or "1x2".
    public var text: String {
        switch self {
        case .valid: "valid"
        case .same: "same"
        case .explicit(let rows, let cols): rows == cols ? "\(rows)" : "\(rows)x\(cols)"
        }
    }

    public init?(text: String) {
        switch text {
        case "valid": self = .valid
        case "same": self = .same
        default:
            guard let (rows, cols) = parsePair(text), rows >= 0, cols >= 0 else { return nil }
            self = .explicit(rows: rows, cols: cols)
        }
    }
}

/// "3" → (3, 3), "3x5" → (3, 5); nil for anything else.
func parsePair(_ text: String) -> (Int, Int)? {
    let parts = text.split(separator: "x", omittingEmptySubsequences: false)
    guard parts.count <= 2, let first = Int(parts[0]) else { return nil }
    guard parts.count == 2 else { return (first, first) }
    guard let second = Int(parts[1]) else { return nil }
    return (first, second)
}
