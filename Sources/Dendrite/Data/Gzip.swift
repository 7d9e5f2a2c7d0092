import CZlib

/// Inflates gzip data with zlib as a stream, as many bytes at a time as the reader asks for, so that a reader
/// can check a file's header before inflating the rest and never inflate more than the header promises: a
/// small file that inflates to gigabytes (a "gzip bomb") costs only what is asked of it. Every member is read
/// in order (as gzip -d does; `cat a.gz b.gz` is a valid file) and zero padding at the end is ignored;
/// corrupt, truncated or trailing non-gzip data is an error.
final class GzipReader {
    /// deflate's densest code (a 258-byte match in two bits) inflates 1032 bytes per input byte at most.
    static let maxExpansion = 1032

    static func isCompressed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    private let path: String
    /// zlib keeps pointers to both (the stream checks its own address), so neither may move: allocated here.
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private var finished = false

    init(_ compressed: [UInt8], path: String) throws {
        self.path = path
        input = .allocate(capacity: compressed.count)
        _ = input.initialize(from: compressed)
        stream.initialize(to: z_stream())
        stream.pointee.next_in = input.baseAddress
        stream.pointee.avail_in = uInt(input.count)
        // 16 + MAX_WBITS: expect a gzip header, not a raw zlib one.
        guard inflateInit2_(stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            input.deallocate()
            stream.deallocate()
            throw DendriteError.data(path: path, problem: "zlib could not start decompressing")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    /// The next `count` inflated bytes, or fewer where the data ends.
    func read(_ count: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, produced in
            produced = 0
            while produced < count && !finished {
                let room = Swift.min(count - produced, 1 << 30)  // zlib counts in 32 bits
                stream.pointee.next_out = buffer.baseAddress! + produced
                stream.pointee.avail_out = uInt(room)
                let status = inflate(stream, Z_NO_FLUSH)
                produced += room - Int(stream.pointee.avail_out)
                switch status {
                case Z_OK: continue
                case Z_STREAM_END: try startNextMember()
                case Z_BUF_ERROR where stream.pointee.avail_in == 0:
                    throw DendriteError.data(path: path, problem: "truncated gzip data")
                default:
                    let reason = stream.pointee.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw DendriteError.data(path: path, problem: "corrupt gzip data (\(reason))")
                }
            }
        }
    }

    /// After a member's end: another member follows, or zero padding, or nothing; anything else is an error.
    private func startNextMember() throws {
        let rest = UnsafeBufferPointer(start: stream.pointee.next_in, count: Int(stream.pointee.avail_in))
        if rest.allSatisfy({ $0 == 0 }) {
            finished = true
        } else if rest.count >= 2 && rest[0] == 0x1F && rest[1] == 0x8B {
            inflateReset(stream)
        } else {
            throw DendriteError.data(path: path, problem: "unexpected data after the gzip stream")
        }
    }
}
