import Foundation
import Testing
@testable import Training

/// Every refusal of a model file names it, even when the code that failed (the layer graph a Keras
/// config builds) did not know the file.
@Suite struct NamingFileTests {
    struct Anonymous: Error, CustomStringConvertible { var description: String }

    @Test func anErrorThatDoesNotNameTheFileIsPrefixedWithIt() {
        do {
            _ = try namingFile("/tmp/m.h5") { () throws -> Int in throw Anonymous(description: "layer 'x' reads 'y', which is not defined") }
            Issue.record("no error")
        } catch {
            #expect(String(describing: error) == "/tmp/m.h5: layer 'x' reads 'y', which is not defined")
        }
    }

    @Test func anErrorThatNamesTheFileIsLeftAsItIs() {
        do {
            _ = try namingFile("/tmp/m.h5") { () throws -> Int in throw Anonymous(description: "/tmp/m.h5: truncated") }
            Issue.record("no error")
        } catch {
            #expect(error is Anonymous)
            #expect(String(describing: error) == "/tmp/m.h5: truncated")
        }
    }

    @Test func aValueIsPassedThrough() throws {
        #expect(try namingFile("/tmp/m.h5") { 42 } == 42)
    }
}
