/// The JSON header of a safetensors file, parsed by hand. Foundation's parser builds an object per value (a
/// 74 MB header declaring a million tensors took 4.2 GB and 18 s) and accepts any JSON; this one accepts only
/// the format's shape, an object mapping `__metadata__` to an object of strings and each tensor name to
/// `{"dtype": string, "shape": [integers], "data_offsets": [begin, end]}`, and keeps only what it returns,
/// so memory stays proportional to the header. That shape bounds its nesting: no recursion on input.
struct SafetensorsHeader {
    struct Entry {
        var name: String, dtype: String
        var shape: [Int]
        var begin: Int, end: Int
    }

    var metadata: [String: String] = [:]
    var entries: [Entry] = []

    init(_ bytes: UnsafeBufferPointer<UInt8>, path: String) throws {
        let parser = Parser(bytes, path: path)
        guard parser.next() == UInt8(ascii: "{") else { throw parser.fail("the header is not a JSON object") }
        try parser.members { key in
            if key == "__metadata__" {
                guard parser.next() == UInt8(ascii: "{") else { throw parser.fail("__metadata__ must map strings to strings") }
                try parser.members { key in
                    guard parser.next() == UInt8(ascii: "\"") else { throw parser.fail("__metadata__ must map strings to strings") }
                    guard metadata.updateValue(try parser.string(), forKey: key) == nil else {
                        throw parser.fail("the metadata key '\(key)' appears twice")
                    }
                }
            } else {
                try entries.append(parser.entry(name: key))  // a name given twice is the reader's to refuse
            }
        }
        guard parser.next() == nil else { throw parser.fail("the header has data after its JSON object") }
    }
}

private final class Parser {
    let bytes: UnsafeBufferPointer<UInt8>
    let path: String
    var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>, path: String) {
        self.bytes = bytes
        self.path = path
    }

    func fail(_ problem: String) -> DendriteError { .checkpoint(path: path, problem: problem) }

    func malformed(_ expected: String) -> DendriteError {
        fail("the header is not valid safetensors JSON: expected \(expected) at byte \(position)")
    }

    /// The next byte that is not JSON white space, without consuming it; nil at the end.
    func next() -> UInt8? {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return bytes[position]
            }
        }
        return nil
    }

    func consume(_ character: Character) throws {
        guard next() == character.asciiValue else { throw malformed("'\(character)'") }
        position += 1
    }

    /// `{ "key": value, … }`: `body` reads each value.
    func members(_ body: (String) throws -> Void) throws {
        try consume("{")
        if next() == UInt8(ascii: "}") { position += 1; return }
        repeat {
            guard next() == UInt8(ascii: "\"") else { throw malformed("a string") }
            let key = try string()
            try consume(":")
            try body(key)
            guard let separator = next(), separator == UInt8(ascii: ",") || separator == UInt8(ascii: "}") else {
                throw malformed("',' or '}'")
            }
            position += 1
            if separator == UInt8(ascii: "}") { return }
        } while true
    }

    func string() throws -> String {
        try consume("\"")
        // Most strings have no escape: decoded straight from the header.
        var end = position
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            defer { position = end + 1 }
            return try utf8String(UnsafeBufferPointer(rebasing: bytes[position..<end]))
        }
        var utf8: [UInt8] = []
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return try utf8.withUnsafeBufferPointer { try utf8String($0) }
            case UInt8(ascii: "\\"):
                guard position < bytes.count else { break }
                let escaped = bytes[position]
                position += 1
                let simple: [UInt8: UInt8] = [0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C, 0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09]
                if let value = simple[escaped] {
                    utf8.append(value)
                } else if escaped == UInt8(ascii: "u") {
                    var scalar = try hexQuad()
                    if (0xD800..<0xDC00).contains(scalar) {  // a surrogate pair: \uD8xx\uDCxx
                        guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                            throw malformed("the second half of a surrogate pair")
                        }
                        position += 2
                        let low = try hexQuad()
                        guard (0xDC00..<0xE000).contains(low) else { throw malformed("the second half of a surrogate pair") }
                        scalar = 0x10000 + (scalar - 0xD800) << 10 + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw malformed("a Unicode scalar value") }
                    utf8 += Array(String(Character(unicode)).utf8)
                } else {
                    throw malformed("an escape sequence")
                }
            case 0..<0x20: throw malformed("no control character in a string")
            default: utf8.append(byte)
            }
        }
        throw malformed("the end of a string")
    }

    /// The string these bytes encode; an error if they are not valid UTF-8 (which decoding would repair).
    private func utf8String(_ utf8: UnsafeBufferPointer<UInt8>) throws -> String {
        let string = String(decoding: utf8, as: UTF8.self)
        guard string.utf8.elementsEqual(utf8) else { throw fail("the header holds a string that is not UTF-8") }
        return string
    }

    private func hexQuad() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw malformed("four hexadecimal digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Character(Unicode.Scalar(bytes[position])).hexDigitValue else { throw malformed("a hexadecimal digit") }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// A non-negative integer, the only kind of number the format has.
    func integer() throws -> Int {
        guard let first = next(), (0x30...0x39).contains(first) else { throw malformed("a non-negative integer") }
        var value = 0
        while position < bytes.count, (0x30...0x39).contains(bytes[position]) {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(bytes[position] - 0x30))
            guard !overflow1 && !overflow2 else { throw fail("the header holds a number too large (at byte \(position))") }
            value = sum
            position += 1
        }
        if position < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[position]) {
            throw malformed("an integer")
        }
        return value
    }

    func integers() throws -> [Int] {
        try consume("[")
        var values: [Int] = []
        if next() == UInt8(ascii: "]") { position += 1; return values }
        repeat {
            values.append(try integer())
            guard let separator = next(), separator == UInt8(ascii: ",") || separator == UInt8(ascii: "]") else {
                throw malformed("',' or ']'")
            }
            position += 1
            if separator == UInt8(ascii: "]") { return values }
        } while true
    }

    /// `{"dtype": …, "shape": […], "data_offsets": [begin, end]}` in any order, each field once.
    func entry(name: String) throws -> SafetensorsHeader.Entry {
        var dtype: String?, shape: [Int]?, offsets: [Int]?
        guard next() == UInt8(ascii: "{") else { throw fail("tensor '\(name)' has a malformed entry") }
        try members { field in
            switch field {
            case "dtype" where dtype == nil: dtype = try string()
            case "shape" where shape == nil: shape = try integers()
            case "data_offsets" where offsets == nil: offsets = try integers()
            default: throw fail("tensor '\(name)' has an unknown or repeated field '\(field)'")
            }
        }
        guard let dtype, let shape, let offsets, offsets.count == 2 else { throw fail("tensor '\(name)' has a malformed entry") }
        return .init(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }
}
