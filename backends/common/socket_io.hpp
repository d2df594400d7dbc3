// The system calls the readiness-based backends (blocking, libevent) make the same way: one
// sendmsg() of a session's pending output, and a pathsend body read from its file into http1's
// output queue. io_uring submits the same work through its ring, and splices files.
//
// Layer: backends/common. Calls on descriptors the caller owns; no HTTP decisions (those are
// the session's and http1's).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "backends/common/session.hpp"
#include "protocol/http1/connection.hpp"

namespace lancet::backend::common {

/// pathsend bodies are read in chunks of this size, and only while http1 holds less than
/// kFileQueueBytes of output: a large file never sits in memory whole.
inline constexpr std::size_t kFileChunk = 64 * 1024;
inline constexpr std::size_t kFileQueueBytes = 4 * kFileChunk;

/// One non-blocking sendmsg() (MSG_NOSIGNAL) of up to 64 pieces of `session`'s pending output.
/// Returns the bytes written (the caller reports them with session.written()), or -errno.
ssize_t send_pending(int fd, const Session& session) noexcept;

/// A file opened for an http.response.pathsend body, or fd -1.
struct OpenedFile {
  int fd = -1;
  std::uint64_t size = 0;  ///< st_size at open
};

/// Opens `path` for an http.response.pathsend body: regular files only (a FIFO, a device or a
/// directory could block the I/O thread, fail every read, or never end), and without waiting
/// (O_NONBLOCK: opening a FIFO for reading would wait for a writer; regular files ignore it).
OpenedFile open_regular_file(const std::string& path) noexcept;

/// An http.response.pathsend body read from its file (Session::Host::open_file()): the bytes go
/// into http1's output queue, lent without a copy, in kFileChunk reads while the queue holds
/// less than kFileQueueBytes; the response ends at the end of the file.
class PathsendFile {
 public:
  PathsendFile() = default;
  ~PathsendFile() { close(); }
  PathsendFile(const PathsendFile&) = delete;
  PathsendFile& operator=(const PathsendFile&) = delete;

  /// False: the file cannot be opened, or is not a regular file (open_regular_file()).
  bool open(const std::string& path) noexcept;
  /// A body is still being read (the cycle cannot end yet).
  bool active() const noexcept { return fd_ >= 0; }
  /// Reads what the queue has room for. At the end of the file, ends the response and closes
  /// the file. A read error, or http1 refusing (the file outgrew Content-Length, or shrank below
  /// it), closes the file and the connection (session.close(now)): the response cannot be
  /// completed.
  void refill(Session& session);
  void close() noexcept;

 private:
  int fd_ = -1;
};

}  // namespace lancet::backend::common
