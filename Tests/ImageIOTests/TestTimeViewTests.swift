import Testing
import TensorCore
@testable import ImageIO

@Suite struct TestTimeViewTests {
    /// 40x30 RGB with a horizontal gradient in red and a vertical one in green.
    static let image: Image = {
        var px = [UInt8](repeating: 0, count: 40 * 30 * 3)
        for y in 0..<30 { for x in 0..<40 { px[(y * 40 + x) * 3] = UInt8(x * 6); px[(y * 40 + x) * 3 + 1] = UInt8(y * 8) } }
        return Image(width: 40, height: 30, channels: 3, pixels: px)
    }()
    static let p = ImagePreprocessing(width: 16, height: 16, normalization: .scale)

    func views(_ v: [TestTimeView]) -> [Float] {
        var out = [Float](repeating: 0, count: v.count * Self.p.sampleSize)
        out.withUnsafeMutableBufferPointer { Self.p.apply(Self.image, views: v, into: $0.baseAddress!) }
        return out
    }

    @Test func standardViewIsTheUsualPreprocessing() {
        let usual = Self.p.apply(Self.image)
        #expect(views([.standard]) == (0..<usual.count).map { usual[flat: $0] })
    }

    @Test func mirroredViewIsTheStandardOneReversedRowByRow() {
        let both = views([.standard, .mirrored])
        let n = Self.p.sampleSize
        for row in 0..<(3 * 16) {
            let a = Array(both[(row * 16)..<(row * 16 + 16)]), b = Array(both[(n + row * 16)..<(n + row * 16 + 16)])
            #expect(a == Array(b.reversed()), "row \(row)")
        }
    }

    @Test func cornerCropsLieInsideTheStandardBoxAtTheirCorners() {
        let b = CropBox(x: 5, y: 0, width: 30, height: 30)
        let tl = TestTimeView.topLeft.box(b), br = TestTimeView.bottomRight.box(b)
        #expect(tl.x == 5 && tl.y == 0 && abs(tl.width - 27) < 1e-9 && abs(tl.height - 27) < 1e-9)
        #expect(abs(br.x + br.width - 35) < 1e-9 && abs(br.y + br.height - 30) < 1e-9)
        // Red grows to the right: the right crops see more red than the left ones; green grows downwards.
        let v = views([.topLeft, .topRight, .bottomLeft])
        let n = Self.p.sampleSize, plane = 256
        func mean(_ view: Int, _ channel: Int) -> Float { v[(view * n + channel * plane)..<(view * n + (channel + 1) * plane)].reduce(0, +) / Float(plane) }
        #expect(mean(1, 0) > mean(0, 0) && mean(2, 1) > mean(0, 1))
    }
}
