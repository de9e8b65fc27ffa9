import Testing
@Test func ImageIOTestsPlaceholder() { #expect(1 + 1 == 2) }
