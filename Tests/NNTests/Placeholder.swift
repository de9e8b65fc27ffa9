import Testing
@Test func NNTestsPlaceholder() { #expect(1 + 1 == 2) }
