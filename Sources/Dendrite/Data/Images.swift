/// Images held as bytes, one after another, each `height × width × channels` with the channels of a pixel
/// together (NHWC, the layout the model takes): a colour image is the red, green and blue of its first pixel,
/// then of the next, row by row. Grey images (MNIST's) have one channel.
public struct Images: Sendable {
    public let count: Int, height: Int, width: Int, channels: Int
    public let pixels: [UInt8]
    /// Bytes per image.
    public var featureCount: Int { height * width * channels }

    /// Images from bytes already in memory (synthetic data, say): `count` images of `height × width × channels`.
    public init(count: Int, height: Int, width: Int, channels: Int = 1, pixels: [UInt8]) {
        precondition(count >= 0 && height >= 0 && width >= 0 && channels >= 1
                     && pixels.count == count * height * width * channels,
                     "Images: \(pixels.count) pixels for \(count) images of \(height)×\(width)×\(channels)")
        self.count = count
        self.height = height
        self.width = width
        self.channels = channels
        self.pixels = pixels
    }
}
