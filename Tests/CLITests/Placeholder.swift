import Testing
@Test func CLITestsPlaceholder() { #expect(1 + 1 == 2) }
