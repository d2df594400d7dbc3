// Listening sockets and socket addresses, for every backend.
//
// Layer: backends/common. Opens the one listening socket a ServerConfig names (host+port, a
// Unix socket path, or an inherited fd) and describes socket addresses as ASGI needs them.
// No HTTP here.
#pragma once

#include <optional>
#include <string>

#include "backends/server.hpp"
#include "protocol/asgi/scope.hpp"

namespace lancet::backend::common {

/// A listening socket, non-blocking and close-on-exec, owned by the server.
struct Listener {
  int fd = -1;
  std::string address;    ///< "host:port", "[v6]:port" or the Unix socket path
  std::string unix_path;  ///< set when we created a Unix socket file (unlinked at the end)
  /// Taken over with --fd: `fd` is our duplicate of a socket the caller keeps (other workers,
  /// systemd). Draining must only close our descriptor, never shutdown() the socket.
  bool borrowed = false;
};

/// Stops new connections on `listener` at once, from any thread: shutdown() for a socket we
/// own (it also wakes a poll or an accept in flight); nothing for a borrowed one, which the
/// backend stops accepting on and closes instead (other processes keep accepting on it).
void refuse_new_connections(const Listener& listener) noexcept;

struct ListenResult {
  Listener listener;  ///< fd < 0 on error
  StartError error;   ///< one line naming the address and the errno text
};

/// Opens the listening socket for `config`:
///   - uds non-empty: a Unix stream socket at that path; a stale socket file is unlinked first
///     (only a socket: a regular file in the way is an error, as asyncio does);
///   - fd >= 0: a duplicate of an inherited socket, which must be a listening stream socket;
///   - otherwise host:port with SO_REUSEADDR (port 0 picks a free port).
/// Errors: bind/listen/socket errno (EADDRINUSE, EACCES, EADDRNOTAVAIL, ...), getaddrinfo
/// failures (errno_value 0), EBADF/ENOTSOCK/EINVAL for a bad fd.
ListenResult open_listener(const ServerConfig& config);

/// The local (peer = false) or remote (peer = true) address of a connected socket as ASGI's
/// (host, port); none for Unix sockets or on error.
std::optional<asgi::Address> socket_address(int fd, bool peer);

}  // namespace lancet::backend::common
