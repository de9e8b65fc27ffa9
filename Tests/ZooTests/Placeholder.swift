import Testing
@Test func ZooTestsPlaceholder() { #expect(1 + 1 == 2) }
