// Dropout with inverted scaling, the contract of dk_dropout (CKernels.h): keep(i) is the same hash
// of (key, i) as the C kernel's, so both backends drop the same elements, any split gives the same
// bits, and the backward pass is this call on dout with the same key.

extension SwiftKernels {
    /// out[i] = keep(first + i) ? input[i] / (1 - rate) : 0; out may equal input.
    public static func dropout(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int,
                               rate: Float, key: UInt64, first: Int) {
        let threshold = UInt32(rate * 16_777_216)
        parallelRanges(count: count, grain: 1 << 16,
                       Dropout(out: out, input: input, first: UInt32(truncatingIfNeeded: first), lo: UInt32(truncatingIfNeeded: key), hi: UInt32(key >> 32),
                               threshold: SIMD8(repeating: threshold), scale: 1 / (1 - rate)))
    }

    private struct Dropout: RangeWork {
        let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, first: UInt32, lo: UInt32, hi: UInt32
        let threshold: SIMD8<UInt32>, scale: Float

        @inline(__always)
        func mix(_ v: SIMD8<UInt32>) -> SIMD8<UInt32> {
            var h = v ^ (v &>> 16)
            h = h &* 0x85EB_CA6B
            h ^= h &>> 13
            h = h &* 0xC2B2_AE35
            return h ^ (h &>> 16)
        }

        func run(_ range: Range<Int>) {
            let lanes = SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7)
            var i = range.lowerBound
            while i < range.upperBound {
                let n = min(8, range.upperBound - i)
                let index = SIMD8(repeating: UInt32(truncatingIfNeeded: i) &+ first) &+ lanes
                let keep = (mix(mix(index ^ SIMD8(repeating: lo)) &+ SIMD8(repeating: hi)) &>> 8) .>= threshold
                let x = n == 8 ? load(input + i) : loadPartial(input + i, n)
                let y = Vec(repeating: 0).replacing(with: x * scale, where: keep)
                if n == 8 { store(out + i, y) } else { storePartial(out + i, y, n) }
                i += 8
            }
        }
    }
}
