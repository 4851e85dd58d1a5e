#include "adapters/sqlite/log_batching_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

namespace hoso {

namespace {

constexpr const char* kName = "hoso-unix";
constexpr int kLogHeaderBytes = 32;    // the write-ahead log's own header, at offset 0
constexpr int kFrameHeaderBytes = 24;  // each frame's header, before its page
// Gathered bytes are written once they reach this much, commit or not (a very large transaction).
constexpr std::size_t kMaxGathered = 4u << 20;

std::atomic<std::uint64_t> g_log_writes{0};
sqlite3_vfs* g_base = nullptr;  // the VFS this one is laid over

// SQLite allocates szOsFile bytes per open file: this header, then the base VFS's own file at kBaseOffset.
struct File {
  sqlite3_file base;        // its pMethods: kMethods
  sqlite3_file* real;       // the base VFS's file, inside the same allocation
  std::vector<char>* gathered;  // log files only: bytes written to the log and not yet to the file
  sqlite3_int64 gathered_at;    // where they go in the file
  bool commit_page_next;        // the last write was a commit frame's header: its page comes next
};
constexpr std::size_t kBaseOffset = (sizeof(File) + 15) / 16 * 16;

File* file_of(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
const sqlite3_io_methods* real_methods(File* f) { return f->real->pMethods; }

// The most the base VFS writes in one call: the unix VFS takes fewer than 128 KiB at a time.
constexpr std::size_t kMaxWrite = 120u << 10;

// A write of the base VFS, with a failure for want of room reported as SQLITE_FULL ("database or disk is
// full"): the unix VFS does so for ENOSPC only, and says "disk I/O error" when a quota or the file size limit
// stops the write.
int write_through(File* f, const void* data, int n, sqlite3_int64 at) {
  const int rc = real_methods(f)->xWrite(f->real, data, n, at);
  if ((rc & 0xFF) == SQLITE_IOERR && (errno == ENOSPC || errno == EDQUOT || errno == EFBIG)) return SQLITE_FULL;
  return rc;
}

// Writes what is gathered, in as few calls to the base VFS as it takes.
int write_gathered(File* f) {
  if (f->gathered == nullptr || f->gathered->empty()) return SQLITE_OK;
  const std::vector<char>& g = *f->gathered;
  int rc = SQLITE_OK;
  for (std::size_t done = 0; done < g.size() && rc == SQLITE_OK; done += kMaxWrite) {
    const std::size_t n = std::min(kMaxWrite, g.size() - done);
    ++g_log_writes;
    rc = write_through(f, g.data() + done, static_cast<int>(n), f->gathered_at + static_cast<sqlite3_int64>(done));
  }
  f->gathered->clear();
  f->commit_page_next = false;
  return rc;
}

int x_close(sqlite3_file* file) {
  File* f = file_of(file);
  int rc = write_gathered(f);
  delete f->gathered;
  f->gathered = nullptr;
  const int closed = real_methods(f)->xClose(f->real);
  return rc != SQLITE_OK ? rc : closed;
}

int x_write(sqlite3_file* file, const void* data, int n, sqlite3_int64 at) {
  File* f = file_of(file);
  if (f->gathered == nullptr) return write_through(f, data, n, at);
  std::vector<char>& g = *f->gathered;
  if (!g.empty() && at != f->gathered_at + static_cast<sqlite3_int64>(g.size()))
    if (int rc = write_gathered(f); rc != SQLITE_OK) return rc;
  if (g.empty()) {
    f->gathered_at = at;
    if (g.capacity() == 0) g.reserve(256 << 10);
  }
  const char* bytes = static_cast<const char*>(data);
  g.insert(g.end(), bytes, bytes + n);
  if (f->commit_page_next) return write_gathered(f);  // the commit frame is whole: the commit's frames go out
  // A frame header whose "database size after commit" (bytes 4-7) is not zero starts the commit frame.
  if (n == kFrameHeaderBytes && at >= kLogHeaderBytes)
    f->commit_page_next = (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
  if (g.size() >= kMaxGathered) return write_gathered(f);
  return SQLITE_OK;
}

// A method of the base file, after writing what is gathered (an operation that may look at the log's bytes,
// its size or its locks).
template <auto Method, typename... Args>
int after_gathered(sqlite3_file* file, Args... args) {
  File* f = file_of(file);
  if (int rc = write_gathered(f); rc != SQLITE_OK) return rc;
  return (real_methods(f)->*Method)(f->real, args...);
}

// A method of the base file, straight (shared memory, the device's properties).
template <auto Method, typename... Args>
auto forward(sqlite3_file* file, Args... args) {
  return (real_methods(file_of(file))->*Method)(file_of(file)->real, args...);
}

int x_fetch(sqlite3_file* file, sqlite3_int64 at, int n, void** out) {
  File* f = file_of(file);
  if (int rc = write_gathered(f); rc != SQLITE_OK) return rc;
  if (real_methods(f)->iVersion < 3) {
    *out = nullptr;  // no memory map: SQLite reads instead
    return SQLITE_OK;
  }
  return real_methods(f)->xFetch(f->real, at, n, out);
}
int x_unfetch(sqlite3_file* file, sqlite3_int64 at, void* p) {
  if (real_methods(file_of(file))->iVersion < 3) return SQLITE_OK;
  return real_methods(file_of(file))->xUnfetch(file_of(file)->real, at, p);
}

using M = sqlite3_io_methods;
const sqlite3_io_methods kMethods = {
    3,
    x_close,
    after_gathered<&M::xRead, void*, int, sqlite3_int64>,
    x_write,
    after_gathered<&M::xTruncate, sqlite3_int64>,
    after_gathered<&M::xSync, int>,
    after_gathered<&M::xFileSize, sqlite3_int64*>,
    after_gathered<&M::xLock, int>,
    after_gathered<&M::xUnlock, int>,
    forward<&M::xCheckReservedLock, int*>,
    after_gathered<&M::xFileControl, int, void*>,
    forward<&M::xSectorSize>,
    forward<&M::xDeviceCharacteristics>,
    forward<&M::xShmMap, int, int, int, void volatile**>,
    forward<&M::xShmLock, int, int, int>,
    forward<&M::xShmBarrier>,
    forward<&M::xShmUnmap, int>,
    x_fetch,
    x_unfetch,
};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  File* f = file_of(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kBaseOffset);
  f->gathered = nullptr;
  f->gathered_at = 0;
  f->commit_page_next = false;
  const int rc = g_base->xOpen(g_base, name, f->real, flags, out_flags);
  if (f->real->pMethods == nullptr) return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  // The base file is open (even when rc says otherwise, it must be closed through us): wrap it.
  if (rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) != 0) f->gathered = new std::vector<char>();
  f->base.pMethods = &kMethods;
  return rc;
}

// The rest of the VFS is the base VFS's, called with the base VFS.
int x_delete(sqlite3_vfs*, const char* name, int sync) { return g_base->xDelete(g_base, name, sync); }
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_base->xAccess(g_base, name, flags, out);
}
int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_base->xFullPathname(g_base, name, n, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) { return g_base->xDlOpen(g_base, name); }
void x_dl_error(sqlite3_vfs*, int n, char* out) { g_base->xDlError(g_base, n, out); }
void (*x_dl_sym(sqlite3_vfs*, void* handle, const char* sym))(void) { return g_base->xDlSym(g_base, handle, sym); }
void x_dl_close(sqlite3_vfs*, void* handle) { g_base->xDlClose(g_base, handle); }
int x_randomness(sqlite3_vfs*, int n, char* out) { return g_base->xRandomness(g_base, n, out); }
int x_sleep(sqlite3_vfs*, int micros) { return g_base->xSleep(g_base, micros); }
int x_current_time(sqlite3_vfs*, double* out) { return g_base->xCurrentTime(g_base, out); }
int x_last_error(sqlite3_vfs*, int n, char* out) { return g_base->xGetLastError(g_base, n, out); }
int x_current_time64(sqlite3_vfs*, sqlite3_int64* out) { return g_base->xCurrentTimeInt64(g_base, out); }

sqlite3_vfs g_vfs;

bool register_once() {
  g_base = sqlite3_vfs_find(nullptr);
  // The base must be a VFS with shared-memory logs (WAL), as the system's "unix" is.
  if (g_base == nullptr || g_base->iVersion < 2 || g_base->xCurrentTimeInt64 == nullptr) return false;
  g_vfs = sqlite3_vfs{};
  g_vfs.iVersion = 2;
  g_vfs.szOsFile = static_cast<int>(kBaseOffset) + g_base->szOsFile;
  g_vfs.mxPathname = g_base->mxPathname;
  g_vfs.zName = kName;
  g_vfs.xOpen = x_open;
  g_vfs.xDelete = x_delete;
  g_vfs.xAccess = x_access;
  g_vfs.xFullPathname = x_full_pathname;
  g_vfs.xDlOpen = x_dl_open;
  g_vfs.xDlError = x_dl_error;
  g_vfs.xDlSym = x_dl_sym;
  g_vfs.xDlClose = x_dl_close;
  g_vfs.xRandomness = x_randomness;
  g_vfs.xSleep = x_sleep;
  g_vfs.xCurrentTime = x_current_time;
  g_vfs.xGetLastError = x_last_error;
  g_vfs.xCurrentTimeInt64 = x_current_time64;
  return sqlite3_vfs_register(&g_vfs, 0) == SQLITE_OK;
}

}  // namespace

const char* log_batching_vfs() {
  static const bool registered = register_once();
  return registered ? kName : nullptr;
}

std::uint64_t log_batching_writes() { return g_log_writes.load(); }

}  // namespace hoso
