// See socket_io.hpp.
#include "backends/common/socket_io.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <memory>
#include <string>
#include <string_view>

namespace lancet::backend::common {
namespace {

constexpr std::size_t kMaxIov = 64;

}  // namespace

ssize_t send_pending(int fd, const Session& session) noexcept {
  std::array<std::string_view, kMaxIov> views;
  std::array<iovec, kMaxIov> iov;
  const std::size_t n = session.pending_output(views);
  for (std::size_t i = 0; i < n; ++i) {
    iov[i].iov_base = const_cast<char*>(views[i].data());
    iov[i].iov_len = views[i].size();
  }
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = n;
  const ssize_t written = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  return written < 0 ? -errno : written;
}

FileBody read_file_body(int fd, http1::ServerConnection& http) {
  while (http.pending_output_bytes() < kFileQueueBytes) {
    auto chunk = std::make_shared<std::string>(kFileChunk, '\0');
    const ssize_t n = read(fd, chunk->data(), chunk->size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileBody::failed;
    if (n == 0) return http.send_end() ? FileBody::ended : FileBody::failed;
    chunk->resize(static_cast<std::size_t>(n));
    const std::string_view bytes = *chunk;
    if (!http.send_data(bytes, std::move(chunk))) return FileBody::failed;
  }
  return FileBody::reading;
}

}  // namespace lancet::backend::common
