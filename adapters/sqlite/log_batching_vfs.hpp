// A SQLite VFS over the system's default one that hands a commit's write-ahead-log frames to the kernel in one
// write. SQLite writes every frame as two writes (its 24-byte header, then the page), so a group commit of
// N pages cost 2N system calls; this layer gathers the frames of a commit in memory as SQLite writes them, in
// order, and writes them when the commit frame's page arrives, in writes of up to 120 KiB (the most the unix
// VFS takes in one call). Nothing else changes: the bytes, their
// place in the file and when SQLite's commit returns (the frames are in the file by then; no other connection
// can see them before the commit's index update, which follows). Any other operation on the log (a read, a
// sync, its size, a truncation, a lock, closing it) first writes what is gathered, as does a write elsewhere
// in the file. Files other than write-ahead logs pass straight through.
#pragma once

#include <cstdint>

namespace hoso {

// The VFS's name for sqlite3_open_v2 ("hoso-unix"), after registering it (once, thread-safe); nullptr when
// it could not be registered (then connections use SQLite's default VFS).
const char* log_batching_vfs();

// Write calls this process's connections made to write-ahead logs so far (for tests and benchmarks).
std::uint64_t log_batching_writes();

}  // namespace hoso
