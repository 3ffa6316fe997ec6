import Foundation
import Testing
@testable import FMSupport
import TestSupport

@Suite struct FileWriterCheckTests {
    let temporary = TemporaryDirectory()

    /// A file that can be written passes, and the check neither creates it nor leaves a trace.
    @Test func checkReplaceable_acceptsAWritableFolder_andTouchesNothing() throws {
        try FileWriter.checkReplaceable(temporary.file("new.prom"))
        try temporary.write("old.prom", "kept\n")
        try FileWriter.checkReplaceable(temporary.file("old.prom"))
        #expect(temporary.listing() == ["old.prom"])
        #expect(try temporary.text("old.prom") == "kept\n")
    }

    @Test func checkReplaceable_refusesAMissingFolderAFileAsFolderAndAFolder() throws {
        try temporary.write("plain", "x")
        for (path, reason) in [(temporary.file("missing/m.prom"), "No such file or directory"),
                               (temporary.file("plain/m.prom"), "Not a directory"),
                               (temporary.path, "is a folder"), (temporary.path + "/", "is a folder")] {
            do throws(FileWriteError) {
                try FileWriter.checkReplaceable(path)
                Issue.record("\(path) passed the check")
            } catch {
                #expect(error.path == path && error.message.contains(reason), "\(error)")
            }
        }
        #expect(temporary.listing() == ["plain"])
    }
}
