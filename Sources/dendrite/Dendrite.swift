import ArgumentParser

@main
struct DendriteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dendrite",
        abstract: "Train neural networks on the CPU with tuned kernels, and see where the time goes.",
        subcommands: [Train.self, Evaluate.self, Info.self, Bench.self, Tune.self],
        defaultSubcommand: Info.self
    )
}
