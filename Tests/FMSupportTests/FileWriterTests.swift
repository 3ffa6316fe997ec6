import Foundation
import Synchronization
import Testing
@testable import FMSupport

@Suite struct FileWriterTests {
    /// A fresh folder under the system's temporary folder, removed when the test's value goes.
    final class Folder {
        let path: String

        init() throws {
            path = try FileManager.default.url(for: .itemReplacementDirectory, in: .userDomainMask,
                                               appropriateFor: URL(fileURLWithPath: NSTemporaryDirectory()), create: true).path
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }

        func file(_ name: String) -> String { path + "/" + name }

        /// What the folder holds, hidden temporary files included.
        func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

        func bytes(_ name: String) -> [UInt8]? { FileManager.default.contents(atPath: file(name)).map(Array.init) }
    }

    @Test func temporaryPaths_areUniqueAcrossThreads() {
        let names = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let mine = (0..<500).map { _ in FileWriter.temporaryPath(directory: "runs/x", name: "run.json") }
            names.withLock { $0 += mine }
        }
        let all = names.withLock { $0 }
        #expect(all.count == 4000)
        #expect(Set(all).count == all.count)
        #expect(all.allSatisfy { $0.hasPrefix("runs/x/.run.json.tmp-\(getpid())-") })
    }

    @Test func concurrentWrites_toOneFile_leaveOneWholeVersionAndNoTemporaryFile() throws {
        let folder = try Folder()
        let target = folder.file("model.bin")
        let versions = (0..<8).map { [UInt8](repeating: UInt8($0), count: 100_000 + $0) }
        let failures = Mutex<[FileWriteError]>([])
        DispatchQueue.concurrentPerform(iterations: versions.count) { index in
            for _ in 0..<5 {
                do throws(FileWriteError) { try FileWriter.writeAtomically(versions[index], to: target) } catch {
                    failures.withLock { $0.append(error) }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(versions.contains(folder.bytes("model.bin") ?? []))
        #expect(try folder.names() == ["model.bin"])
    }

    @Test func write_replacesTheWholeFile() throws {
        let folder = try Folder()
        let target = folder.file("run.json")
        try FileWriter.writeAtomically(Array(String(repeating: "long line\n", count: 1000).utf8), to: target)
        try FileWriter.writeAtomically(Array("{}\n".utf8), to: target)
        #expect(folder.bytes("run.json") == Array("{}\n".utf8))
        #expect(try folder.names() == ["run.json"])
    }

    /// A folder in the target's place cannot be replaced by a file (root included): the write
    /// fails at the rename, names the target, and removes its temporary file.
    @Test func failedRename_namesTheTargetAndLeavesNoTemporaryFile() throws {
        let folder = try Folder()
        let target = folder.file("model.safetensors")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        #expect {
            try FileWriter.writeAtomically([1, 2, 3], to: target)
        } throws: { error in
            guard let error = error as? FileWriteError else { return false }
            return error.path == target && error.message.hasPrefix("cannot replace the file (")
                && error.description.hasPrefix(target + ": ") && !error.description.contains("\n")
        }
        #expect(try folder.names() == ["model.safetensors"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty)
    }

    /// A folder that cannot hold files (a regular file, or a missing folder; permission bits
    /// do not stop root): the error names the target and says why, and nothing is created.
    @Test(arguments: [("notAFolder/run.json", "Not a directory"), ("missing/run.json", "No such file or directory")])
    func unwritableFolder_givesAnErrorNamingThePath(_ relative: String, _ reason: String) throws {
        let folder = try Folder()
        try FileWriter.writeAtomically(Array("x".utf8), to: folder.file("notAFolder"))
        let target = folder.file(relative)
        let writes: [() throws -> Void] = [{ try FileWriter.writeAtomically([1], to: target) }, { try FileWriter.append([1], to: target) }]
        for write in writes {
            #expect {
                try write()
            } throws: { error in
                guard let error = error as? FileWriteError else { return false }
                return error.path == target && error.description.hasPrefix(target + ": ") && error.message.contains(reason)
            }
        }
        #expect(try folder.names() == ["notAFolder"])
    }

    @Test func directoryPath_isRefusedByName() {
        #expect(throws: FileWriteError(path: "runs/", message: "cannot write: expected a file path, not a directory")) {
            try FileWriter.writeAtomically([1], to: "runs/")
        }
    }

    @Test func append_createsThenExtends() throws {
        let folder = try Folder()
        let target = folder.file("epochs.csv")
        try FileWriter.append(Array("a,b\n".utf8), to: target)
        try FileWriter.append(Array("1,2\n".utf8), to: target)
        #expect(folder.bytes("epochs.csv") == Array("a,b\n1,2\n".utf8))
    }

    @Test func split_givesTheDirectoryAndName() {
        for (path, directory, name) in [("runs/x/run.json", "runs/x", "run.json"), ("run.json", ".", "run.json"), ("/run.json", "/", "run.json")] {
            let parts = FileWriter.split(path)
            #expect(parts.directory == directory && parts.name == name, "\(path)")
        }
    }
}

@Suite struct JSONTextTests {
    @Test func quoted_escapesQuotesBackslashesAndControlCharacters() {
        #expect(JSONText.quoted("say \"hi\"\\\n\r\t\u{1}é") == "\"say \\\"hi\\\"\\\\\\n\\r\\t\\u0001é\"")
        #expect(JSONText.quoted("") == "\"\"")
    }

    @Test func number_wholeNumbersWithoutFractionAndNonFiniteAsNull() {
        #expect(JSONText.number(3) == "3")
        #expect(JSONText.number(-2) == "-2")
        #expect(JSONText.number(0.001) == "0.001")
        #expect(JSONText.number(1e300) == "1e+300")
        #expect(JSONText.number(.nan) == "null")
        #expect(JSONText.number(-.infinity) == "null")
    }
}
