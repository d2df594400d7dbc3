// See socket_io.hpp.
#include "backends/common/socket_io.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

OpenedFile open_regular_file(const std::string& path) noexcept {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return {};
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return {};
  }
  return {fd, static_cast<std::uint64_t>(st.st_size)};
}

bool PathsendFile::open(const std::string& path) noexcept {
  close();
  fd_ = open_regular_file(path).fd;
  return fd_ >= 0;
}

void PathsendFile::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void PathsendFile::refill(Session& session) {
  http1::ServerConnection& http = session.http();
  while (fd_ >= 0 && http.pending_output_bytes() < kFileQueueBytes) {
    auto chunk = std::make_shared<std::string>(kFileChunk, '\0');
    const ssize_t n = read(fd_, chunk->data(), chunk->size());
    if (n < 0 && errno == EINTR) continue;
    bool ok = n > 0;
    if (ok) {
      chunk->resize(static_cast<std::size_t>(n));
      const std::string_view bytes = *chunk;
      if (http.send_data(bytes, std::move(chunk))) continue;
      ok = false;
    } else if (n == 0) {
      ok = http.send_end().has_value();  // end of file
    }
    close();
    if (!ok) session.close(Session::Closing::now);
  }
}

}  // namespace lancet::backend::common
