import Models

/// The DataError `body` throws, or nil when it throws nothing (any other error is a failure too).
func dataError(_ body: () throws -> Void) -> DataError? {
    do {
        try body()
        return nil
    } catch let error as DataError {
        return error
    } catch {
        return DataError(path: "", message: "unexpected error type: \(error)", exitCode: -1)
    }
}

/// An IDX file's raw bytes built by hand, for files the writer would refuse to make.
func idxBytes(type: UInt8 = 0x08, dimensions: [UInt32], payload: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0, 0, type, UInt8(dimensions.count)]
    for d in dimensions { out += [UInt8(d >> 24), UInt8((d >> 16) & 0xFF), UInt8((d >> 8) & 0xFF), UInt8(d & 0xFF)] }
    return out + payload
}
