import Testing
@Test func WeightIOTestsPlaceholder() { #expect(1 + 1 == 2) }
