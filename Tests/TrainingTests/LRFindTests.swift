import Foundation
import Testing
@testable import Training

@Suite struct LRFindTests {
    @Test func ratesGrowExponentiallyFromStartToEnd() {
        #expect(LRFindJob.rate(step: 0, of: 5, start: 1e-4, end: 1) == 1e-4)
        #expect(abs(LRFindJob.rate(step: 4, of: 5, start: 1e-4, end: 1) - 1) < 1e-12)
        #expect(abs(LRFindJob.rate(step: 2, of: 5, start: 1e-4, end: 1) - 1e-2) < 1e-12)
    }

    /// A loss curve falling fastest at 1e-3 (a tanh step in log10(lr)), with its minimum at 1e-1.
    @Test func suggestionIsTheSteepestDescentAndTheMinimumOverTen() {
        let points = (0..<81).map { i -> LRFindJob.Point in
            let x = -6 + Double(i) * 0.1   // log10(lr) from -6 to 2
            let loss = 2 - tanh((x + 3) * 2) + (x > -1 ? (x + 1) * (x + 1) : 0)
            return LRFindJob.Point(lr: pow(10, x), loss: loss, smoothed: loss)
        }
        let r = LRFindJob.analyse(points, diverged: false)
        #expect(abs(log10(r.steepest) + 3) <= 0.1, "steepest at \(r.steepest)")
        #expect(abs(log10(r.minimumOverTen) + 2) <= 0.15, "minimum/10 at \(r.minimumOverTen)")
        #expect(r.suggestion == r.steepest)
    }
}
