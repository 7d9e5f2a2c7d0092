// Dropout with inverted scaling, the contract of dk_dropout (CKernels.h): keep(i) is the same hash
// of (key, i) as the C kernel's, so both backends drop the same elements, any split gives the same
// bits, and the backward pass is this call on dout with the same key. As there (CKernels/dropout.c),
// each hash decides two elements by its 16-bit halves: in every aligned block of 32 indices, lane
// l's hash decides element l by its low half and element 16 + l by its high half.

extension SwiftKernels {
    /// out[i] = keep(first + i) ? input[i] / (1 - rate) : 0; out may equal input.
    public static func dropout(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int,
                               rate: Float, key: UInt64, first: Int) {
        parallelRanges(count: count, grain: 1 << 16,
                       Dropout(out: out, input: input, first: UInt32(truncatingIfNeeded: first),
                               lo: UInt32(truncatingIfNeeded: key), hi: UInt32(key >> 32),
                               threshold: UInt32(rate * 65536), scale: 1 / (1 - rate)))
    }

    private struct Dropout: RangeWork {
        typealias Lanes = SIMD16<UInt32>

        let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, first: UInt32, lo: UInt32, hi: UInt32
        let threshold: UInt32, scale: Float

        /// murmur3's 32-bit finalizer.
        @inline(__always)
        static func mix<V: SIMD>(_ v: V) -> V where V.Scalar == UInt32 {
            var h = v ^ (v &>> 16)
            h = h &* 0x85EB_CA6B
            h ^= h &>> 13
            h = h &* 0xC2B2_AE35
            return h ^ (h &>> 16)
        }

        @inline(__always)
        func pairHash<V: SIMD>(_ pair: V) -> V where V.Scalar == UInt32 {
            Self.mix(Self.mix(pair ^ V(repeating: lo)) &+ V(repeating: hi))
        }

        /// One element at index i, for the parts of a range outside whole blocks.
        @inline(__always)
        func dropOne(_ i: Int) {
            let j = UInt32(truncatingIfNeeded: i) &+ first
            let h = pairHash(SIMD2(repeating: j / 32 * 16 + j % 16))[0]  // the block's hash, on one lane
            let bits = j & 16 == 0 ? h & 0xFFFF : h >> 16
            out[i] = bits >= threshold ? input[i] * scale : 0
        }

        func run(_ range: Range<Int>) {
            var i = range.lowerBound
            while i < range.upperBound && (UInt32(truncatingIfNeeded: i) &+ first) % 32 != 0 {
                dropOne(i)
                i += 1
            }
            let laneIndex = Lanes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
            let limit = Lanes(repeating: threshold), zero = SIMD16<Float>(repeating: 0)
            while i + 32 <= range.upperBound {
                let pair = (UInt32(truncatingIfNeeded: i) &+ first) / 32 * 16
                let h = pairHash(Lanes(repeating: pair) &+ laneIndex)
                let low = UnsafeRawPointer(input + i).loadUnaligned(as: SIMD16<Float>.self)
                let high = UnsafeRawPointer(input + i + 16).loadUnaligned(as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(out + i).storeBytes(
                    of: zero.replacing(with: low * scale, where: h & 0xFFFF .>= limit), as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(out + i + 16).storeBytes(
                    of: zero.replacing(with: high * scale, where: h &>> 16 .>= limit), as: SIMD16<Float>.self)
                i += 32
            }
            while i < range.upperBound {
                dropOne(i)
                i += 1
            }
        }
    }
}
