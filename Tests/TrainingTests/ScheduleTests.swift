import Testing
@testable import Training

@Suite struct ScheduleTests {
    func close(_ a: Float, _ b: Float, _ tol: Float = 1e-6) -> Bool { abs(a - b) <= tol * max(1, abs(b)) }

    @Test func constant() {
        let s = Schedules.constant(0.01)
        #expect(s(0, 100) == 0.01 && s(99, 100) == 0.01)
    }

    @Test func stepDecay() {
        let s = Schedules.step(0.1, factor: 0.1, every: 7)
        #expect(close(s(0, 25), 0.1) && close(s(6, 25), 0.1))
        #expect(close(s(7, 25), 0.01) && close(s(13, 25), 0.01))
        #expect(close(s(14, 25), 0.001) && close(s(21, 25), 0.0001))
    }

    @Test func cosineToFloor() {
        let s = Schedules.cosine(0.1, floor: 0.001)
        #expect(close(s(0, 100), 0.1))
        #expect(close(s(50, 100), 0.0505))
        #expect(close(s(100, 100), 0.001))
        #expect(close(s(150, 100), 0.001))  // clamped
        #expect(s(25, 100) > s(26, 100))
    }

    @Test func oneCycleMatchesPyTorchKeyPoints() {
        // OneCycleLR(max_lr=1, total_steps=100, pct_start=0.3): start 0.04, peak at step 29, end 4e-6.
        let s = Schedules.oneCycle(1, pctStart: 0.3)
        #expect(close(s(0, 100), 0.04))
        #expect(close(s(29, 100), 1))
        #expect(s(10, 100) > 0.04 && s(10, 100) < 1)
        #expect(close(s(99, 100), 0.04 / 1e4, 1e-3))
        // Half way down the second phase: between 29 and 99 the midpoint is 64.
        #expect(close(s(64, 100), (1 + 4e-6) / 2, 1e-5))
        #expect(s(40, 100) > s(60, 100))
    }

    @Test func warmupRampsThenHandsOver() {
        let s = Schedules.warmup(4, Schedules.cosine(0.1))
        #expect(close(s(0, 104), 0.025) && close(s(1, 104), 0.05) && close(s(3, 104), 0.1))
        #expect(close(s(4, 104), 0.1))                      // inner step 0
        #expect(close(s(54, 104), 0.05))                    // inner half-way of 100
        #expect(close(s(104, 104), 0))
        let c = Schedules.warmup(0, Schedules.constant(0.3))
        #expect(c(0, 10) == 0.3)
    }
}
