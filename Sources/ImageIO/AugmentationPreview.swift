import Foundation
import TensorCore

/// Contact sheets of augmented samples, for `finetune augment --preview`: one row per image, the
/// first column the evaluation transform, the others augmented variants.
public enum AugmentationPreview {
    /// The grid as an 8-bit image (gray or RGB, as `augmenter.preprocessing.pixelFormat`).
    /// Variant v of image r uses a generator seeded from (seed, r, v), so a preview is reproducible.
    public static func grid(images: [Image], augmenter: Augmenter, variants: Int, seed: UInt64,
                            spacing: Int = 2, background: UInt8 = 128) -> Image {
        let p = augmenter.preprocessing
        let columns = 1 + max(variants, 0), rows = images.count
        let width = columns * p.width + (columns + 1) * spacing
        let height = rows * p.height + (rows + 1) * spacing
        var sheet = Image(width: max(width, 1), height: max(height, 1), channels: p.channels, repeating: background)
        var evaluation = p
        evaluation.normalization = .none
        for (r, image) in images.enumerated() {
            for column in 0..<columns {
                let tile: Image
                if column == 0 {
                    let planar = evaluation.apply(image)
                    tile = Image.fromPlanar(planar.pointer, width: p.width, height: p.height, channels: p.channels)
                } else {
                    var rng = SeededRandom(dataSeed: seed, stream: UInt64(r), UInt64(column))
                    tile = augmenter.augmentedImage(image, rng: &rng)
                }
                paste(tile, into: &sheet, x: spacing + column * (p.width + spacing), y: spacing + r * (p.height + spacing))
            }
        }
        return sheet
    }

    /// Writes a preview PNG (atomically) for the first `count` samples of `dataset` (or of a seeded
    /// random pick when `randomPick`), `variants` augmentations each.
    public static func write(dataset: ImageFolderDataset, augmenter: Augmenter, to file: URL, count: Int = 8,
                             variants: Int = 7, seed: UInt64 = 0, randomPick: Bool = true,
                             decodeOptions: ImageDecodeOptions = ImageDecodeOptions()) throws {
        var indices = Array(dataset.samples.indices)
        if randomPick {
            var rng = SeededRandom(dataSeed: seed, stream: 0x0050_5245_5649_4557)
            rng.shuffle(&indices)
        }
        let images = try indices.prefix(max(count, 0)).map {
            try ImageDecoder.decode(file: dataset.samples[$0].file, as: augmenter.preprocessing.pixelFormat,
                                  options: decodeOptions)
        }
        try PNGEncoder.write(grid(images: images, augmenter: augmenter, variants: variants, seed: seed), to: file)
    }

    static func paste(_ tile: Image, into sheet: inout Image, x: Int, y: Int) {
        let c = sheet.channels, rowBytes = tile.width * c
        for row in 0..<tile.height {
            let from = row * rowBytes, to = ((y + row) * sheet.width + x) * c
            sheet.pixels.replaceSubrange(to..<(to + rowBytes), with: tile.pixels[from..<(from + rowBytes)])
        }
    }
}
