import Foundation
import Testing
@testable import Dendrite

@Suite struct IDXTests {
    @Test(arguments: [false, true]) func roundTrip(compressed: Bool) throws {
        let folder = try DataFolder(path: writeSyntheticFolder(train: 50, test: 20, side: 5, compressed: compressed))
        #expect(folder.train.count == 50 && folder.test.count == 20)
        #expect(folder.train.images.height == 5 && folder.train.images.width == 5 && folder.train.featureCount == 25)
        #expect(folder.train.classCount == 4)
        let (pixels, labels) = syntheticImages(count: 50, side: 5, seed: 1)
        #expect(folder.train.images.pixels == pixels)
        #expect(folder.train.labels == labels.map(Int32.init))
    }

    /// Batches hold pixels / 255 in the shuffled order, every example once per epoch, the last batch partial.
    @Test func batchesCoverTheEpoch() throws {
        let folder = try DataFolder(path: writeSyntheticFolder(train: 50, test: 20, side: 5))
        let batcher = Batcher(dataset: folder.train, batchSize: 16)
        #expect(batcher.batchesPerEpoch == 4)
        var generator = SeededGenerator(seed: 5)
        batcher.startEpoch(shuffle: &generator)
        var seen: [[Float]] = []
        var rowCounts: [Int] = []
        for index in 0..<batcher.batchesPerEpoch {
            let rows = batcher.load(batch: index, on: Backends.c)
            rowCounts.append(rows)
            let values = batcher.images.value.scalars
            for r in 0..<rows { seen.append(Array(values[(r * 25)..<((r + 1) * 25)])) }
        }
        #expect(rowCounts == [16, 16, 16, 2])
        let expected = (0..<50).map { i in folder.train.images.pixels[(i * 25)..<((i + 1) * 25)].map { Float($0) * (Float(1) / 255) } }
        let sameExamples = seen.sorted { $0.lexicographicallyPrecedes($1) } == expected.sorted { $0.lexicographicallyPrecedes($1) }
        #expect(sameExamples, "every example exactly once, as pixels × (1/255)")
        #expect(seen != expected, "the order should be shuffled")
    }

    func expectDataError(_ bytes: [UInt8], dimensions: Int, containing text: String) {
        do {
            _ = try IDX.parse(bytes, path: "f", expectedDimensions: dimensions, kind: "test")
            Issue.record("expected an error containing '\(text)'")
        } catch let error as DendriteError {
            #expect(error.description.contains(text), "\(error)")
            #expect(error.description.hasPrefix("f: "), "the message names the file: \(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func badFilesGiveClearErrors() {
        let good = idxBytes(dimensions: [2, 2, 2], payload: [1, 2, 3, 4, 5, 6, 7, 8])
        expectDataError([0, 0, 8], dimensions: 3, containing: "too short")
        expectDataError([0, 0, 9, 3] + good.dropFirst(4), dimensions: 3, containing: "wrong magic number 0x00000903")
        expectDataError(good, dimensions: 1, containing: "wrong magic number")
        expectDataError(Array(good.dropLast(3)), dimensions: 3, containing: "truncated")
        expectDataError(good + [0], dimensions: 3, containing: "trailing data")
        expectDataError(Array(good.prefix(10)), dimensions: 3, containing: "truncated IDX header")
        expectDataError(idxBytes(dimensions: [65535, 65535, 65535], payload: []), dimensions: 3, containing: "truncated")
        let compressed = gzipped(good)
        expectDataError(Array(compressed.prefix(compressed.count / 2)), dimensions: 3, containing: "truncated gzip")
        var corrupt = compressed
        corrupt[12] ^= 0xFF
        corrupt[13] ^= 0xFF
        expectDataError(corrupt, dimensions: 3, containing: "gzip")
        expectDataError(compressed + [7, 7, 7], dimensions: 3, containing: "unexpected data after the gzip stream")
    }

    /// `cat a.gz b.gz` is one valid gzip file holding a's bytes then b's; zero padding after it is ignored.
    @Test func multiMemberGzipIsReadWhole() throws {
        let good = idxBytes(dimensions: [2, 2, 2], payload: [1, 2, 3, 4, 5, 6, 7, 8])
        let split = good.count - 5
        for bytes in [gzipped(Array(good[..<split])) + gzipped(Array(good[split...])), gzipped(good) + [0, 0, 0, 0]] {
            let (dimensions, payload) = try IDX.parse(bytes, path: "f", expectedDimensions: 3, kind: "test")
            #expect(dimensions == [2, 2, 2] && payload == [1, 2, 3, 4, 5, 6, 7, 8])
        }
    }

    @Test func inconsistentDatasetsAreRejected() throws {
        let images = Images(count: 2, height: 1, width: 2, pixels: [1, 2, 3, 4])
        #expect(throws: DendriteError.data(path: "l", problem: "3 labels for 2 images in i")) {
            try Dataset(images: images, labels: [0, 1, 1], imagesPath: "i", labelsPath: "l")
        }
        #expect(throws: DendriteError.data(path: "l", problem: "label 7 is outside the 3 classes 0..<3")) {
            try Dataset(images: images, labels: [0, 7], classCount: 3, imagesPath: "i", labelsPath: "l")
        }
        #expect(throws: DendriteError.data(path: "i", problem: "holds zero images")) {
            try Dataset(images: Images(count: 0, height: 1, width: 2, pixels: []), labels: [], imagesPath: "i", labelsPath: "l")
        }
    }

    /// Issue 16, item 9: one stray label must not build a model of hundreds of classes, most never seen.
    @Test func labelsImplyingMissingClassesAreRefused() throws {
        let images = Images(count: 5, height: 1, width: 1, pixels: [1, 2, 3, 4, 5])
        #expect(throws: DendriteError.data(path: "l", problem:
            "the largest label is 255, but labels 2, 3, 5–254 have no example; if the data really has 256 classes, pass --classes 256")) {
            try Dataset(images: images, labels: [0, 1, 4, 255, 1], imagesPath: "i", labelsPath: "l")
        }
        #expect(throws: DendriteError.data(path: "l", problem:
            "the largest label is 3, but label 1 has no example; if the data really has 4 classes, pass --classes 4")) {
            try Dataset(images: images, labels: [0, 2, 3, 3, 0], imagesPath: "i", labelsPath: "l")
        }
        let overridden = try Dataset(images: images, labels: [0, 1, 4, 255, 1], classCount: 256, imagesPath: "i", labelsPath: "l")
        #expect(overridden.classCount == 256)
    }

    /// Issue 16, item 11: what stands where a data file should be is named, not reported as missing.
    @Test func foldersAndLinksInPlaceOfDataFilesAreNamed() throws {
        let cases: [(String, (String) throws -> Void)] = [
            ("is a folder, not a file", { try FileManager.default.createDirectory(atPath: $0, withIntermediateDirectories: false) }),
            ("is a symbolic link loop", { try FileManager.default.createSymbolicLink(atPath: $0, withDestinationPath: $0) }),
            ("is a symbolic link to 'nowhere', which does not exist",
             { try FileManager.default.createSymbolicLink(atPath: $0, withDestinationPath: "nowhere") }),
            ("is a named pipe, not a file", { #expect(mkfifo($0, 0o600) == 0) }),
        ]
        for (problem, make) in cases {
            let folder = writeSyntheticFolder(train: 16, test: 8)
            let file = "\(folder)/train-labels-idx1-ubyte"
            try FileManager.default.removeItem(atPath: file)
            try make(file)
            #expect(throws: DendriteError.data(path: file, problem: problem)) { try DataFolder(path: folder) }
            #expect(throws: DendriteError.data(path: file, problem: problem)) { try IDX.readLabels(path: file) }
        }
    }

    /// Issue 16, item 3: a gzip file is inflated only as far as its IDX header requires.
    @Test func gzipIsInflatedOnlyAsFarAsTheHeaderRequires() throws {
        let zeros = gzipped([UInt8](repeating: 0, count: 1 << 20))
        expectDataError(zeros, dimensions: 3, containing: "wrong magic number 0x00000000")
        let promise = idxBytes(dimensions: [1 << 16, 1 << 10, 1 << 10], payload: [1, 2, 3])
        expectDataError(gzipped(promise), dimensions: 3,
                        containing: "header says 65536×1024×1024 = 68719476736 bytes of data, more than")
        let good = idxBytes(dimensions: [2, 2, 2], payload: [1, 2, 3, 4, 5, 6, 7, 8])
        expectDataError(gzipped(good + [UInt8](repeating: 0, count: 1 << 20)), dimensions: 3, containing: "trailing data after the 2×2×2 values")
        expectDataError(gzipped(Array(good.dropLast())), dimensions: 3,
                        containing: "truncated: header says 2×2×2 = 8 bytes of data, file has 7")
    }

    @Test func missingFolderAndFilesAreNamed() throws {
        #expect(throws: DendriteError.data(path: "/nonexistent/dendrite", problem: "no such folder")) {
            try DataFolder(path: "/nonexistent/dendrite")
        }
        let folder = writeSyntheticFolder(train: 10, test: 10)
        try FileManager.default.removeItem(atPath: "\(folder)/t10k-labels-idx1-ubyte")
        #expect(throws: DendriteError.data(path: "\(folder)/t10k-labels-idx1-ubyte[.gz]", problem: "no such file")) {
            try DataFolder(path: folder)
        }
    }
}
