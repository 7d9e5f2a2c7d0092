import CZlib

/// Decompresses gzip data in memory with zlib: every member of it, in order (as gzip -d does; `cat a.gz
/// b.gz` is a valid file), ignoring zero padding at the end. Corrupt, truncated or trailing non-gzip
/// data is an error.
enum Gzip {
    static func isCompressed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    static func decompress(_ input: [UInt8], path: String) throws -> [UInt8] {
        var stream = z_stream()
        // 16 + MAX_WBITS: expect a gzip header, not a raw zlib one.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DendriteError.data(path: path, problem: "zlib could not start decompressing")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(input.count * 4)
        let chunkSize = 1 << 20
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var status: Int32 = Z_OK
        try input.withUnsafeBufferPointer { source in
            stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
            stream.avail_in = uInt(source.count)
            repeat {
                status = chunk.withUnsafeMutableBufferPointer { buffer in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = uInt(chunkSize)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                switch status {
                case Z_OK, Z_STREAM_END:
                    output.append(contentsOf: chunk[0..<(chunkSize - Int(stream.avail_out))])
                case Z_BUF_ERROR where stream.avail_in == 0:
                    throw DendriteError.data(path: path, problem: "truncated gzip data")
                default:
                    let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw DendriteError.data(path: path, problem: "corrupt gzip data (\(reason))")
                }
                if status == Z_STREAM_END && stream.avail_in > 0 {
                    let rest = source[(source.count - Int(stream.avail_in))...]
                    if rest.allSatisfy({ $0 == 0 }) { break }
                    guard rest.count >= 2 && rest.first == 0x1F && rest.dropFirst().first == 0x8B else {
                        throw DendriteError.data(path: path, problem: "unexpected data after the gzip stream")
                    }
                    inflateReset(&stream)  // the next member
                    status = Z_OK
                }
            } while status != Z_STREAM_END
        }
        return output
    }
}
