#if canImport(Glibc)
import CKernels
import Glibc
import Synchronization
#endif

/// Checks that a loop leaves the heap alone, in this process and without changing how the library allocates:
///  - Swift heap objects allocated (class instances, array and closure-context buffers: how Swift code
///    usually allocates), counted through the runtime's `_swift_allocObject` hook, which the Swift
///    runtime provides for allocation instruments; it is installed only while the loop runs;
///  - malloc's bytes in use and arena size before and after (glibc's `mallinfo2`, through
///    `dk_probe_heap`): growth means memory kept per call.
/// A raw malloc freed within the loop (C code, `UnsafeMutablePointer.allocate`) shows in neither
/// figure; no per-call counter exists for it short of interposing malloc. Linux (glibc) only.
struct AllocationReport: Codable {
    var calls: Int
    var swiftObjects: Int
    var inUseBytesGrowth: Int
    var arenaBytesGrowth: Int
    var mmappedBytesGrowth: Int

    /// Nothing allocated per call that the probe can see.
    var isClean: Bool { swiftObjects == 0 && inUseBytesGrowth <= 0 && mmappedBytesGrowth <= 0 }
}

#if canImport(Glibc)
enum AllocationProbe {
    private typealias AllocObject = @convention(c) (UnsafeRawPointer?, Int, Int) -> UnsafeMutableRawPointer?
    private static let objects = Atomic<Int>(0)
    nonisolated(unsafe) private static var original: AllocObject?

    private static let counting: AllocObject = { metadata, size, alignmentMask in
        AllocationProbe.objects.add(1, ordering: .relaxed)
        return AllocationProbe.original!(metadata, size, alignmentMask)
    }

    /// Runs `body` `calls` times and reports what it allocated; nil where the hook is missing.
    static func measure(calls: Int, _ body: () -> Void) -> AllocationReport? {
        guard let hook = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "_swift_allocObject"),
              let enabled = dlsym(UnsafeMutableRawPointer(bitPattern: 0),
                                  "_swift_enableSwizzlingOfAllocationAndRefCountingFunctions_forInstrumentsOnly")
        else { return nil }
        let slot = hook.assumingMemoryBound(to: AllocObject.self)
        let switchedOn = enabled.assumingMemoryBound(to: Bool.self)
        original = slot.pointee
        objects.store(0, ordering: .relaxed)
        // Warm-up first: the harness pauses OpenMP between backends, and the first parallel region after
        // a pause builds its thread team anew (a one-time cost, not the step's).
        for _ in 0..<3 { body() }
        let before = heap()
        // The hook goes in before the runtime is told to call it, and comes out after it stops.
        slot.pointee = counting
        switchedOn.pointee = true
        for _ in 0..<calls { body() }
        switchedOn.pointee = false
        let after = heap()
        slot.pointee = original!
        return AllocationReport(calls: calls, swiftObjects: objects.load(ordering: .relaxed),
                                inUseBytesGrowth: after.inUse - before.inUse,
                                arenaBytesGrowth: after.arena - before.arena,
                                mmappedBytesGrowth: after.mmapped - before.mmapped)
    }

    private static func heap() -> (inUse: Int, arena: Int, mmapped: Int) {
        var inUse = 0, arena = 0, mmapped = 0
        dk_probe_heap(&inUse, &arena, &mmapped)
        return (inUse, arena, mmapped)
    }
}
#else
enum AllocationProbe {
    static func measure(calls: Int, _ body: () -> Void) -> AllocationReport? { nil }
}
#endif
