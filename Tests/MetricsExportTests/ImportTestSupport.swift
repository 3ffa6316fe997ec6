// The helpers every test target shares (temporary folders, fake powercap trees, SplitMix64,
// maxAbsDiff), visible in all of this target's files through this one import.
@_exported import TestSupport
