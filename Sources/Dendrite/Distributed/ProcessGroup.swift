#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The processes that train one model together: this process alone, or the ranks of an `mpirun` job
/// (found from the launcher's environment, as PyTorch's and Horovod's launchers are). Every rank runs
/// the same program on its share of each batch; rank 0 alone prints and writes files.
public final class ProcessGroup: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    let mpi: OpenMPI?

    /// This process alone.
    public static let single = ProcessGroup(rank: 0, size: 1, mpi: nil)

    private init(rank: Int, size: Int, mpi: OpenMPI?) {
        self.rank = rank
        self.size = size
        self.mpi = mpi
    }

    /// Whether an MPI launcher started this process (Open MPI's `mpirun` sets `OMPI_COMM_WORLD_SIZE`).
    public static var launchedByMPI: Bool { getenv("OMPI_COMM_WORLD_SIZE") != nil }

    /// Whether Open MPI can be loaded here (what `dendrite info` reports).
    public static var mpiAvailability: Result<Void, DendriteError> {
        do { _ = try OpenMPI(); return .success(()) } catch let error as DendriteError { return .failure(error) } catch {
            return .failure(.unavailable("\(error)"))
        }
    }

    /// The group this process belongs to: MPI's world when launched by `mpirun`, else ``single``.
    /// Call once, early; ``finish()`` before exiting.
    public static func join() throws -> ProcessGroup {
        guard launchedByMPI else { return .single }
        let mpi = try OpenMPI()
        let (rank, size) = mpi.start()
        return ProcessGroup(rank: rank, size: size, mpi: mpi)
    }

    public var isMain: Bool { rank == 0 }
    public var isDistributed: Bool { size > 1 }

    /// Rows `[lower, upper)` of a batch of `rows` that this rank trains on: contiguous shares whose sizes
    /// differ by at most one row, the larger ones last (rank r takes rows·r/size up to rows·(r+1)/size).
    public func share(of rows: Int) -> Range<Int> {
        (rows * rank / size)..<(rows * (rank + 1) / size)
    }

    /// Ends MPI (every rank must call it before exiting normally).
    public func finish() { mpi?.stop() }

    /// Ends the whole job at once with `code`: after a fatal error on one rank the others would wait forever.
    public func abort(code: Int32) -> Never {
        guard let mpi else { exit(code) }
        mpi.abortJob(code: code)
    }

    /// Sums `values` over every rank, in place (identity for one process).
    public func sum(_ values: UnsafeMutableBufferPointer<Double>) {
        mpi?.allReduceSum(values.baseAddress!, count: values.count)
    }

    /// Rank 0's bytes replace every other rank's.
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer) {
        guard let mpi, bytes.count > 0 else { return }
        mpi.broadcast(bytes.baseAddress!, count: bytes.count)
    }

    /// Every rank's values, in rank order.
    public func allGather(_ values: [UInt64]) -> [UInt64] {
        mpi?.allGather(values, size: size) ?? values
    }

    /// Every rank's bytes on rank 0, in rank order; other ranks get an empty list.
    public func gatherToMain(_ bytes: [UInt8]) -> [[UInt8]] {
        mpi?.gatherToRoot(bytes, rank: rank, size: size) ?? [bytes]
    }
}

/// An error every rank of a group raises at the same point (the checks of the ranks' agreement, a
/// diverging loss, which every rank sees summed): the ranks can stop together, rank 0 saying why,
/// instead of one rank ending the job.
public struct AgreedFailure: Error, CustomStringConvertible {
    public let underlying: Error
    public init(_ underlying: Error) { self.underlying = underlying }
    public var description: String { "\(underlying)" }
}
