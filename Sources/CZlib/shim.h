// zlib, for gzip-compressed IDX files (gzopen/gzread handle both .gz and raw files).
#include <zlib.h>
