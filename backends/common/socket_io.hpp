// The system calls the readiness-based backends (blocking, libevent) make the same way: one
// sendmsg() of a session's pending output, and a pathsend body read from its file into http1's
// output queue. io_uring submits the same work through its ring instead.
//
// Layer: backends/common. Calls on descriptors the caller owns; no HTTP decisions (those are
// the session's and http1's).
#pragma once

#include <sys/types.h>

#include <cstddef>

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

enum class FileBody : unsigned char {
  reading,  ///< more to read once the output queue drains
  ended,    ///< end of file: the response is ended (http1's send_end)
  failed,   ///< a read error, or http1 refused (the file outgrew Content-Length, or shrank
            ///< below it): the response cannot be completed; close the connection
};

/// Reads the pathsend file `fd` into `http`'s output queue (lent, not copied) while the queue
/// holds less than kFileQueueBytes. The caller closes `fd` once this says ended or failed.
FileBody read_file_body(int fd, http1::ServerConnection& http);

}  // namespace lancet::backend::common
