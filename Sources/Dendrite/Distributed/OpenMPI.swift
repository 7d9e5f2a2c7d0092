#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Open MPI's C API, loaded at run time (Debian's `libopenmpi3`, from `libopenmpi-dev`/`openmpi-bin`), so
/// Dendrite builds and runs without it and needs it only under `mpirun`. Handles such as `MPI_COMM_WORLD`
/// are Open MPI's exported globals (`&ompi_mpi_comm_world`), as its `mpi.h` defines them.
final class OpenMPI: @unchecked Sendable {
    typealias Handle = OpaquePointer
    private typealias Init = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32
    private typealias CommInt = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
    private typealias Iallgather = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle,
                                                   Handle, UnsafeMutablePointer<Handle?>) -> Int32
    private typealias Ialltoallv = @convention(c) (UnsafeRawPointer?, UnsafePointer<Int32>, UnsafePointer<Int32>, Handle,
                                                   UnsafeMutableRawPointer?, UnsafePointer<Int32>, UnsafePointer<Int32>, Handle,
                                                   Handle, UnsafeMutablePointer<Handle?>) -> Int32
    private typealias Allgatherv = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, UnsafePointer<Int32>,
                                                   UnsafePointer<Int32>, Handle, Handle) -> Int32
    private typealias Allreduce = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle) -> Int32
    private typealias Bcast = @convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle) -> Int32
    private typealias Allgather = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle) -> Int32
    private typealias Gatherv = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, UnsafePointer<Int32>?,
                                                UnsafePointer<Int32>?, Handle, Int32, Handle) -> Int32
    private typealias Waitall = @convention(c) (Int32, UnsafeMutablePointer<Handle?>, OpaquePointer?) -> Int32
    private typealias Testall = @convention(c) (Int32, UnsafeMutablePointer<Handle?>, UnsafeMutablePointer<Int32>, OpaquePointer?) -> Int32
    private typealias Abort = @convention(c) (Handle, Int32) -> Int32
    private typealias Finalize = @convention(c) () -> Int32

    /// Library names tried, first match wins.
    static let libraryNames = ["libmpi.so.40", "libmpi.so"]

    let comm: Handle, float: Handle, double: Handle, byte: Handle, sum: Handle
    private let initialize: Init, commRank: CommInt, commSize: CommInt, iallgather: Iallgather, allreduce: Allreduce
    private let ialltoallv: Ialltoallv, allgatherv: Allgatherv
    private let bcast: Bcast, allgather: Allgather, gatherv: Gatherv, waitall: Waitall, testall: Testall
    private let abort: Abort, finalize: Finalize

    /// Loads the library; an error says what is missing.
    init() throws {
        // RTLD_GLOBAL: Open MPI's own plugins resolve their symbols against libmpi.
        guard let library = OpenMPI.libraryNames.lazy.compactMap({ dlopen($0, RTLD_NOW | RTLD_GLOBAL) }).first else {
            throw DendriteError.unavailable("Open MPI not found (tried \(OpenMPI.libraryNames.joined(separator: ", "))); "
                + "install it with: apt-get install libopenmpi-dev openmpi-bin")
        }
        func symbol<T>(_ name: String, as type: T.Type) throws -> T {
            guard let address = dlsym(library, name) else { throw DendriteError.unavailable("Open MPI has no \(name)") }
            return unsafeBitCast(address, to: type)
        }
        func global(_ name: String) throws -> Handle {
            guard let address = dlsym(library, name) else { throw DendriteError.unavailable("Open MPI has no \(name)") }
            return Handle(address)
        }
        comm = try global("ompi_mpi_comm_world")
        float = try global("ompi_mpi_float")
        double = try global("ompi_mpi_double")
        byte = try global("ompi_mpi_byte")
        sum = try global("ompi_mpi_op_sum")
        initialize = try symbol("MPI_Init", as: Init.self)
        commRank = try symbol("MPI_Comm_rank", as: CommInt.self)
        commSize = try symbol("MPI_Comm_size", as: CommInt.self)
        iallgather = try symbol("MPI_Iallgather", as: Iallgather.self)
        allreduce = try symbol("MPI_Allreduce", as: Allreduce.self)
        ialltoallv = try symbol("MPI_Ialltoallv", as: Ialltoallv.self)
        allgatherv = try symbol("MPI_Allgatherv", as: Allgatherv.self)
        bcast = try symbol("MPI_Bcast", as: Bcast.self)
        allgather = try symbol("MPI_Allgather", as: Allgather.self)
        gatherv = try symbol("MPI_Gatherv", as: Gatherv.self)
        waitall = try symbol("MPI_Waitall", as: Waitall.self)
        testall = try symbol("MPI_Testall", as: Testall.self)
        abort = try symbol("MPI_Abort", as: Abort.self)
        finalize = try symbol("MPI_Finalize", as: Finalize.self)
    }

    // Open MPI's default error handler on MPI_COMM_WORLD aborts the job on any error, so the return codes
    // below are success whenever a call returns at all.

    /// MPI_Init, then this process's rank and the number of processes.
    func start() -> (rank: Int, size: Int) {
        _ = initialize(nil, nil)
        var rank: Int32 = 0, size: Int32 = 1
        _ = commRank(comm, &rank)
        _ = commSize(comm, &size)
        return (Int(rank), Int(size))
    }

    func stop() { _ = finalize() }

    /// Ends every process of the job with `code` (a fatal error on one rank must not leave the others waiting).
    func abortJob(code: Int32) -> Never {
        _ = abort(comm, code)
        exit(code)
    }

    /// Starts gathering `count` floats from every rank into `into` (rank r's at r·count); `request` completes it.
    func startAllGather(_ send: UnsafePointer<Float>, count: Int, into receive: UnsafeMutablePointer<Float>,
                        request: UnsafeMutablePointer<Handle?>) {
        _ = iallgather(send, Int32(count), float, receive, Int32(count), float, comm, request)
    }

    /// Starts sending `sendCounts[r]` floats from `send + sendOffsets[r]` to each rank r and receiving
    /// `receiveCounts[r]` floats from each rank r into `receive + receiveOffsets[r]`; `request` completes it.
    /// The four lists (one entry per rank) must stay unchanged until then.
    func startAllToAll(_ send: UnsafePointer<Float>, sendCounts: UnsafePointer<Int32>, sendOffsets: UnsafePointer<Int32>,
                       into receive: UnsafeMutablePointer<Float>, receiveCounts: UnsafePointer<Int32>,
                       receiveOffsets: UnsafePointer<Int32>, request: UnsafeMutablePointer<Handle?>) {
        _ = ialltoallv(send, sendCounts, sendOffsets, float, receive, receiveCounts, receiveOffsets, float, comm, request)
    }

    /// Each rank r's `counts[r]` floats at `buffer + offsets[r]` (its own part, in place) to every rank.
    func allGatherInPlace(_ buffer: UnsafeMutablePointer<Float>, counts: UnsafePointer<Int32>, offsets: UnsafePointer<Int32>) {
        _ = allgatherv(UnsafeRawPointer(bitPattern: 1), 0, float, buffer, counts, offsets, float, comm)  // MPI_IN_PLACE
    }

    /// Waits for every request.
    func waitAll(_ requests: UnsafeMutablePointer<Handle?>, count: Int) {
        _ = waitall(Int32(count), requests, nil)
    }

    /// Lets pending requests progress (Open MPI moves data only inside its calls); true when all are done.
    func testAll(_ requests: UnsafeMutablePointer<Handle?>, count: Int) -> Bool {
        var done: Int32 = 0
        _ = testall(Int32(count), requests, &done, nil)
        return done != 0
    }

    /// Sums doubles over every rank, in place.
    func allReduceSum(_ values: UnsafeMutablePointer<Double>, count: Int) {
        _ = allreduce(UnsafeRawPointer(bitPattern: 1), values, Int32(count), double, sum, comm)  // MPI_IN_PLACE
    }

    /// Rank 0's bytes to every rank.
    func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int) {
        var offset = 0
        while offset < count {  // MPI counts are 32-bit
            let chunk = Swift.min(count - offset, 1 << 30)
            _ = bcast(bytes + offset, Int32(chunk), byte, 0, comm)
            offset += chunk
        }
    }

    /// Every rank's `UInt64` values, in rank order.
    func allGather(_ values: [UInt64], size: Int) -> [UInt64] {
        var out = [UInt64](repeating: 0, count: values.count * size)
        values.withUnsafeBytes { send in
            out.withUnsafeMutableBytes { receive in
                _ = allgather(send.baseAddress, Int32(send.count), byte, receive.baseAddress, Int32(send.count), byte, comm)
            }
        }
        return out
    }

    /// Every rank's bytes, on rank 0 (others get an empty list).
    func gatherToRoot(_ bytes: [UInt8], rank: Int, size: Int) -> [[UInt8]] {
        let lengths = allGather([UInt64(bytes.count)], size: size).map { Int32($0) }
        var displacements = [Int32](repeating: 0, count: size)
        for r in 1..<Swift.max(size, 1) where r < size { displacements[r] = displacements[r - 1] + lengths[r - 1] }
        var receive = [UInt8](repeating: 0, count: rank == 0 ? Int(lengths.reduce(0, +)) : 0)
        bytes.withUnsafeBytes { send in
            receive.withUnsafeMutableBytes { out in
                _ = gatherv(send.baseAddress, Int32(send.count), byte, out.baseAddress, lengths, displacements, byte, 0, comm)
            }
        }
        guard rank == 0 else { return [] }
        return (0..<size).map { r in Array(receive[Int(displacements[r])..<Int(displacements[r] + lengths[r])]) }
    }
}
