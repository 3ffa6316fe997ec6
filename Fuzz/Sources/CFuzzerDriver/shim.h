#include <stddef.h>
#include <stdint.h>

// libFuzzer's entry point for programs that keep their own main (LLVM 11 and later); the
// runtime linked by -sanitize=fuzzer defines it.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
