/* oneDNN's C API (Debian libdnnl-dev: /usr/include/dnnl.h, no pkg-config file): its int8 GEMM,
 * one of the candidates the int8 layers choose from by measurement (docs/compress.md). */
#include <dnnl.h>
