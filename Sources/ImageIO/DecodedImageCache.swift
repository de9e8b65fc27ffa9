import Foundation
import TensorCore

/// A whole dataset decoded once into memory (the datasets here are small), each image downscaled
/// so its shorter side is at most `maxShorterSide` (never upscaled). Augmenting from these pixels
/// skips file reads and decoding every epoch: the loader's fast path.
public struct DecodedImageCache: Sendable {
    /// The dataset the images belong to (files that failed to decode here are removed from it).
    public let dataset: ImageFolderDataset
    /// `images[i]` is `dataset.samples[i]`, in `pixelFormat`.
    public let images: [Image]
    public let pixelFormat: PixelFormat

    /// Bytes held by the pixels.
    public var byteCount: Int { images.reduce(0) { $0 + $1.pixels.count } }

    /// A shorter-side bound that keeps detail for `preprocessing`: twice the largest output or
    /// resize side, so random crops are rarely upscaled from a reduced copy.
    public static func defaultMaxShorterSide(for preprocessing: ImagePreprocessing) -> Int {
        2 * max(preprocessing.width, preprocessing.height, preprocessing.resizeShorterSide ?? 0)
    }

    /// Decodes every sample (in parallel, `Threads.count` workers). Unreadable files are skipped with a
    /// warning line each (as in a dataset scan); a class left empty is an error.
    public init(dataset: ImageFolderDataset, pixelFormat: PixelFormat = .rgb, maxShorterSide: Int? = nil,
                options: DatasetOptions = DatasetOptions()) throws {
        let samples = dataset.samples
        // JPEGs are reduced in the DCT domain first, never below the cache's own bound.
        var decode = options.decodeOptions
        decode.minimumShorterSide = maxShorterSide
        var decoded = [Image?](repeating: nil, count: samples.count)
        var failures = [String?](repeating: nil, count: samples.count)
        decoded.withUnsafeMutableBufferPointer { images in
            failures.withUnsafeMutableBufferPointer { errors in
                guard let imageSlots = images.baseAddress, let errorSlots = errors.baseAddress else { return }
                parallelFor(samples.count) { i in
                    do {
                        let image = try ImageDecoder.decode(file: samples[i].file, as: pixelFormat, options: decode)
                        imageSlots[i] = DecodedImageCache.reduced(image, maxShorterSide: maxShorterSide)
                    } catch let error as ImageIOError {
                        errorSlots[i] = DatasetScan.reason(error)
                    } catch {
                        errorSlots[i] = "\(error)"
                    }
                }
            }
        }
        var kept: [ImageSample] = [], images: [Image] = [], skipped = dataset.skipped
        for i in samples.indices {
            if let image = decoded[i] {
                kept.append(samples[i]); images.append(image)
            } else {
                let reason = failures[i] ?? "decode failed"
                let entry = SkippedFile(path: samples[i].file.path, reason: reason)
                options.warn("\(entry)")
                skipped.append(entry)
            }
        }
        let filtered = ImageFolderDataset(root: dataset.root, classNames: dataset.classNames, samples: kept,
                                          isMultiLabel: dataset.isMultiLabel, skipped: skipped)
        if kept.count < samples.count {
            options.warn(filtered.summary)
            if let empty = filtered.classCounts.firstIndex(of: 0) {
                throw ImageIOError.emptyClass(name: dataset.classNames[empty],
                                              location: dataset.root.appendingPathComponent(dataset.classNames[empty]).path)
            }
        }
        self.dataset = filtered
        self.images = images
        self.pixelFormat = pixelFormat
    }

    /// The bytes a cache of `dataset` would hold, estimated from the headers of up to `probes` files
    /// spread evenly over it (reading every header of a 30,000-image set would cost a pass over it).
    public static func estimatedBytes(dataset: ImageFolderDataset, pixelFormat: PixelFormat, maxShorterSide: Int?,
                                      probes: Int = 256) -> Int {
        let samples = dataset.samples
        guard !samples.isEmpty else { return 0 }
        let step = max(1, samples.count / max(1, probes))
        var total = 0, counted = 0
        for i in stride(from: 0, to: samples.count, by: step) {
            guard let (w, h) = try? ImageDecoder.storedSize(file: samples[i].file) else { continue }
            let (rw, rh) = reducedSize(width: w, height: h, maxShorterSide: maxShorterSide)
            total += rw * rh * pixelFormat.channels
            counted += 1
        }
        guard counted > 0 else { return 0 }
        return Int((Double(total) / Double(counted) * Double(samples.count)).rounded(.up))
    }

    static func reducedSize(width: Int, height: Int, maxShorterSide: Int?) -> (Int, Int) {
        guard let limit = maxShorterSide, limit > 0, min(width, height) > limit else { return (width, height) }
        let s = Double(limit) / Double(min(width, height))
        return (max(1, Int((Double(width) * s).rounded())), max(1, Int((Double(height) * s).rounded())))
    }

    static func reduced(_ image: Image, maxShorterSide: Int?) -> Image {
        let (w, h) = reducedSize(width: image.width, height: image.height, maxShorterSide: maxShorterSide)
        return w == image.width && h == image.height ? image : image.resized(width: w, height: h)
    }
}
