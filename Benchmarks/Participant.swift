import Dendrite

/// A backend as the harness races it: its name in the tables and the C kernels' code path it runs
/// on. The C backend appears once per path raced: as "c" on the path in use (the one every "vs C"
/// compares with), and as "c-avx2", "c-portable" on others.
struct Participant {
    var name: String
    var backend: Backend
    var path: CodePath

    /// The participants for `backends`: each on the path in use, plus the C backend on `otherPaths`.
    static func all(_ backends: [Backend], otherPaths: [CodePath]) -> [Participant] {
        let inUse = CodePath.inUse
        var participants = backends.map { Participant(name: $0.name, backend: $0, path: inUse) }
        if let c = backends.first(where: { $0.name == "c" }) {
            participants += otherPaths.filter { $0 != inUse }.map { Participant(name: "c-\($0)", backend: c, path: $0) }
        }
        return participants
    }

    /// `runner` switched to this participant's code path before every call (an atomic store).
    func onPath(_ runner: @escaping Runner) -> Runner {
        let path = self.path
        return {
            try? CodePath.select(path)
            runner()
        }
    }
}
