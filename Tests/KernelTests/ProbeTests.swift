// The benchmark harness's machine probes that tests can check without timing anything: the
// core-to-core round trip is a finite, positive time on any machine with OpenMP (two threads even
// on one CPU, where the probe gives up after 0.1 s instead of spinning through time slices).

import CKernels
import Foundation
import Testing

@Suite struct ProbeTests {
    @Test("the core-to-core round trip is a positive, finite time that ends")
    func coreRoundTrip() {
        let started = Date()
        let nanoseconds = dk_probe_core_round_trip_ns(1000)
        #expect(nanoseconds.isFinite && nanoseconds > 0, "round trip \(nanoseconds) ns")
        // A round trip is at least a memory access and at most the probe's 0.1 s limit plus a time slice.
        #expect(nanoseconds >= 1 && Date().timeIntervalSince(started) < 1, "round trip \(nanoseconds) ns")
    }
}
