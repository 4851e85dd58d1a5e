#include <iostream>

#include "adapters/cli/cli.hpp"

// jemalloc's settings, read when it starts (MALLOC_CONF in the environment still applies on top; glibc's
// malloc, under the sanitizers, ignores this): its memory on transparent huge pages, which Debian's kernel
// gives on request (transparent_hugepage=madvise), so that a server filling its caches takes a page fault
// per 2 MiB instead of per 4 KiB. serve_bench, alternating runs: ~40,000 faults in the first 20,000
// creations without, ~4,000 with; creations 14,300/s → 16,600–17,300/s. The price: memory is taken 2 MiB at
// a time (the served bench's resident set 175 → 205 MiB).
extern "C" {
const char* malloc_conf = "thp:always,metadata_thp:auto";
}

int main(int argc, char** argv) { return hoso::cli::run(argc, argv, std::cout, std::cerr); }
