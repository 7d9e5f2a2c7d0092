import CKernels

/// The C GEMM's cache blocking on one code path: MC rows of A, KC steps of K and NC columns of B per
/// block. KC decides how each element's sum is split into blocks, so it changes the bits of every
/// product with K > KC (and so of training); MC and NC change only the speed.
public struct GEMMBlocking: Equatable, Sendable, CustomStringConvertible {
    public var mc: Int, kc: Int, nc: Int

    public init(mc: Int, kc: Int, nc: Int) {
        self.mc = mc
        self.kc = kc
        self.nc = nc
    }

    /// Where a path's blocking came from, in order of precedence (highest first).
    public enum Source: String, Sendable {
        case environment = "DENDRITE_BLOCKING"
        case set = "set by the program"
        case wisdom = "stored by dendrite tune"
        case caches = "derived from the caches"
        case fallback = "built-in fallback"
    }

    public static let environmentVariable = "DENDRITE_BLOCKING"

    /// The built-in blocking, used where the caches cannot be read: MC 144, KC 512, NC 256.
    public static var fallback: GEMMBlocking { GEMMBlocking(dk_fallback_blocking()) }

    init(_ b: dk_blocking) { self.init(mc: Int(b.mc), kc: Int(b.kc), nc: Int(b.nc)) }

    var c: dk_blocking { dk_blocking(mc: Int32(mc), kc: Int32(kc), nc: Int32(nc)) }

    /// "144,512,256", the form `DENDRITE_BLOCKING` and the wisdom file use.
    public var description: String { "\(mc),\(kc),\(nc)" }

    /// Parses "MC,KC,NC" (three positive integers); nil if it is not that.
    public init?(parsing text: some StringProtocol) {
        let fields = text.split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count == 3, fields.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let mc = Int(fields[0]), let kc = Int(fields[1]), let nc = Int(fields[2]), mc > 0, kc > 0, nc > 0
        else { return nil }
        self.init(mc: mc, kc: kc, nc: nc)
    }

    /// The blocking `path` uses now, and where it came from.
    public static func current(for path: CodePath) -> (blocking: GEMMBlocking, source: Source) {
        var source = DK_BLOCKING_FALLBACK
        let blocking = GEMMBlocking(dk_get_blocking(path.c, &source))
        let named: Source = switch source {
        case DK_BLOCKING_ENVIRONMENT: .environment
        case DK_BLOCKING_CALLER: .set
        case DK_BLOCKING_WISDOM: .wisdom
        case DK_BLOCKING_CACHES: .caches
        default: .fallback
        }
        return (blocking, named)
    }

    /// What the cache model gives `path` on a CPU with these data caches (bytes; `l3` 0 for none),
    /// which runs each 512-bit FMA as two halves when `splits512BitFMA` (see `CPUInfo`); nil when
    /// L1d or L2 is unknown. `current(for:)` reports this for the CPU it runs on unless something
    /// overrides it.
    public static func derived(for path: CodePath, l1d: Int, l2: Int, l3: Int, l3Sharing: Int,
                               splits512BitFMA: Bool) -> GEMMBlocking? {
        let caches = dk_caches(l1d: l1d, l2: l2, l3: l3, l3_sharing: Int32(l3Sharing))
        var blocking = dk_blocking()
        guard dk_blocking_from_caches(path.c, caches, splits512BitFMA ? 1 : 0, &blocking) != 0 else { return nil }
        return GEMMBlocking(blocking)
    }

    /// Makes `path` use `blocking`; an error that says which rule it breaks if its GEMM cannot.
    /// Not while GEMMs run.
    public static func set(_ blocking: GEMMBlocking, for path: CodePath, source: Source = .set) throws {
        var message = [CChar](repeating: 0, count: 256)
        let cSource = source == .wisdom ? DK_BLOCKING_WISDOM : DK_BLOCKING_CALLER
        guard dk_set_blocking(path.c, blocking.c, cSource, &message, message.count) == 0 else {
            throw DendriteError.invalidArgument("blocking \(blocking) on the \(path) path: \(String(cString: message))")
        }
    }
}
