import Foundation

/// Test-time augmentation views (fastai's `tta`, the "multi-crop" evaluation of the ImageNet papers):
/// the deterministic view, its mirror image, and four corner crops of 90% of the view's crop box.
/// A classifier's probabilities averaged over them are usually a little better than the single view's.
public enum TestTimeView: Sendable, Equatable, CaseIterable {
    case standard, mirrored, topLeft, topRight, bottomLeft, bottomRight

    /// Fraction of the standard crop box each corner crop keeps (per side).
    public static let cornerScale = 0.9

    /// This view's source rectangle, from the standard one.
    public func box(_ b: CropBox) -> CropBox {
        let w = b.width * Self.cornerScale, h = b.height * Self.cornerScale
        switch self {
        case .standard, .mirrored: return b
        case .topLeft: return CropBox(x: b.x, y: b.y, width: w, height: h)
        case .topRight: return CropBox(x: b.x + b.width - w, y: b.y, width: w, height: h)
        case .bottomLeft: return CropBox(x: b.x, y: b.y + b.height - h, width: w, height: h)
        case .bottomRight: return CropBox(x: b.x + b.width - w, y: b.y + b.height - h, width: w, height: h)
        }
    }
}

extension ImagePreprocessing {
    /// Writes each of `views` of the image (C * H * W floats each) to `out`, one after another.
    public func apply(_ image: Image, views: [TestTimeView], into out: UnsafeMutablePointer<Float>) {
        let source = conformed(image)
        let standard = cropBox(sourceWidth: source.width, sourceHeight: source.height)
        let planar = UnsafeMutablePointer<Float>.allocate(capacity: sampleSize)
        defer { planar.deallocate() }
        let plane = width * height
        for (v, view) in views.enumerated() {
            Resampler.resamplePlanar(source, box: view.box(standard), width: width, height: height, antialias: antialias, into: planar)
            if view == .mirrored {
                for c in 0..<channels {
                    for y in 0..<height {
                        let row = planar + c * plane + y * width
                        var (i, j) = (0, width - 1)
                        while i < j { swap(&row[i], &row[j]); i += 1; j -= 1 }
                    }
                }
            }
            normalization.apply(planar, channels: channels, plane: plane, into: out + v * sampleSize)
        }
    }
}
