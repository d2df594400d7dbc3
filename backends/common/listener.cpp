// Listening sockets and socket addresses. See listener.hpp.
#include "backends/common/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lancet::backend::common {
namespace {

std::string errno_text(int err) {
  if (err == EADDRINUSE) return "is already in use";
  if (err == EACCES) return "needs permission (ports below 1024 need privileges)";
  if (err == EADDRNOTAVAIL) return "is not an address of this machine";
  return std::string("failed: ") + std::strerror(err);
}

ListenResult fail(int err, const std::string& what) {
  ListenResult r;
  r.error.errno_value = err;
  r.error.message = "[Errno " + std::to_string(err) + "] " + what;
  return r;
}

std::string format_address(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  if (ss.ss_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&ss);
    return std::string(un->sun_path, strnlen(un->sun_path, sizeof un->sun_path));
  }
  return "?";
}

std::string local_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  return format_address(ss);
}

void set_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

ListenResult listen_on(int fd, int backlog, const std::string& shown) {
  if (listen(fd, backlog) != 0) {
    const int err = errno;
    close(fd);
    return fail(err, "cannot listen on " + shown + ": " + std::strerror(err));
  }
  set_nonblocking(fd);
  ListenResult r;
  r.listener.fd = fd;
  r.listener.address = local_address(fd);
  return r;
}

ListenResult open_unix(const ServerConfig& config) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (config.uds.size() >= sizeof un.sun_path) {
    return fail(ENAMETOOLONG, "Unix socket path " + config.uds + " is too long");
  }
  std::memcpy(un.sun_path, config.uds.data(), config.uds.size());
  struct stat st {};
  if (lstat(config.uds.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(config.uds.c_str());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(errno, std::string("cannot create a Unix socket: ") + strerror(errno));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&un), sizeof un) != 0) {
    const int err = errno;
    close(fd);
    return fail(err, "Unix socket " + config.uds + " " + errno_text(err));
  }
  ListenResult r = listen_on(fd, config.backlog, config.uds);
  r.listener.address = config.uds;
  r.listener.unix_path = config.uds;
  return r;
}

ListenResult adopt_fd(const ServerConfig& config) {
  const std::string shown = "--fd " + std::to_string(config.fd);
  int type = 0;
  int accepting = 0;
  socklen_t len = sizeof type;
  if (getsockopt(config.fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    return fail(errno, shown + " is not a socket: " + std::strerror(errno));
  }
  len = sizeof accepting;
  getsockopt(config.fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len);
  if (type != SOCK_STREAM || accepting == 0) {
    return fail(EINVAL, shown + " is not a listening stream socket");
  }
  // A duplicate: the inheriting process keeps its own descriptor (as Python's socket.fromfd).
  const int fd = fcntl(config.fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return fail(errno, "cannot take over " + shown + ": " + std::strerror(errno));
  set_nonblocking(fd);
  ListenResult r;
  r.listener.fd = fd;
  r.listener.address = local_address(fd);
  r.listener.borrowed = true;
  return r;
}

ListenResult open_tcp(const ServerConfig& config) {
  const bool v6 = config.host.find(':') != std::string::npos;
  const std::string shown =
      (v6 ? "[" + config.host + "]" : config.host) + ":" + std::to_string(config.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(config.port);
  const int rc = getaddrinfo(config.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return fail(0, "cannot resolve address " + shown + ": " + gai_strerror(rc));
  }
  const int fd = socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  if (fd < 0) {
    const int err = errno;
    freeaddrinfo(found);
    return fail(err, "cannot create a socket for " + shown + ": " + std::strerror(err));
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const int bound = bind(fd, found->ai_addr, found->ai_addrlen);
  const int err = errno;
  freeaddrinfo(found);
  if (bound != 0) {
    close(fd);
    return fail(err, "address " + shown + " " + errno_text(err));
  }
  return listen_on(fd, config.backlog, shown);
}

}  // namespace

ListenResult open_listener(const ServerConfig& config) {
  if (!config.uds.empty()) return open_unix(config);
  if (config.fd >= 0) return adopt_fd(config);
  return open_tcp(config);
}

std::optional<asgi::Address> socket_address(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  if ((peer ? getpeername(fd, sa, &len) : getsockname(fd, sa, &len)) != 0) return std::nullopt;
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return asgi::Address{host, ntohs(in->sin_port)};
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return asgi::Address{host, ntohs(in6->sin6_port)};
  }
  return std::nullopt;
}

void refuse_new_connections(const Listener& listener) noexcept {
  if (listener.fd >= 0 && !listener.borrowed) ::shutdown(listener.fd, SHUT_RDWR);
}

}  // namespace lancet::backend::common
