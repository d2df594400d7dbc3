// Server: what every backend offers the process that runs it (the bridge or a C++ embedder).
//
// Layer: backends/. One backend is compiled in (LANCET_BACKEND); each provides
// `make_server()` returning this interface. No Python here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/port.hpp"
#include "protocol/classify/classify.hpp"
#include "protocol/http1/limits.hpp"

namespace lancet::backend {

/// WebSocket settings (`--ws*`), uvicorn's defaults.
struct WebSocketConfig {
  /// --ws auto: handshakes become 'websocket' scopes. --ws none: they reach the app as plain
  /// HTTP requests, as later uvicorn does (0.17.6 answered them 400 "Unsupported upgrade
  /// request.").
  bool enabled = true;
  /// --ws-max-size: largest message after decompression; a larger one closes with 1009.
  std::size_t max_message_bytes = 16 * 1024 * 1024;
  /// --ws-max-queue: messages received and not yet taken by the app; at the bound the backend
  /// stops reading the socket. Memory per connection: up to max_queue * max_message_bytes.
  std::size_t max_queue = 32;
  double ping_interval = 20.0;  ///< --ws-ping-interval: seconds between server pings (0: none)
  double ping_timeout = 20.0;   ///< --ws-ping-timeout: close 1011 on a pong this late (0: never)
  bool per_message_deflate = true;  ///< --ws-per-message-deflate: accept permessage-deflate
};

/// Everything a backend needs to know, with the defaults `lancet --help` documents.
struct ServerConfig {
  // where to listen (exactly one of: host+port, uds, fd)
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;
  std::string uds;            ///< Unix domain socket path (replaced if it exists)
  int fd = -1;                ///< an already-bound listening socket to take over
  int backlog = 2048;

  http1::Options http;                     ///< limits, leniency, Server and Date headers
  std::vector<Header> default_headers;     ///< --header NAME:VALUE, added to every response
  classify::ClassifyOptions probes;        ///< /_health/alive, /_health/ready
  std::string root_path;                   ///< ASGI root_path for every scope
  bool proxy_headers = true;               ///< trust X-Forwarded-For/-Proto from the IPs below
  std::vector<std::string> forwarded_allow_ips = {"127.0.0.1"};  ///< "*" trusts everyone

  double timeout_keep_alive = 5.0;         ///< idle keep-alive connection closed after (s)
  double timeout_header = 10.0;            ///< a request head must arrive within (s), else 408
  std::size_t limit_concurrency = 0;       ///< requests in the app at once; above: 503 (0: none)
  std::size_t max_connections = 1024;      ///< open connections at once (blocking: threads)
  std::size_t body_window = 64 * 1024;     ///< request body read ahead of the app (bytes)
  bool release_idle_memory = true;         ///< trim the heap when the last connection closes
  WebSocketConfig ws;                      ///< --ws, --ws-max-size, --ws-max-queue, ...

  /// true: the backend runs its own I/O thread(s) and posts to the AppPort from them.
  /// false: caller-driven, where the backend supports it (io_uring): no thread; the caller
  /// watches poll_fd() and calls pump() on the thread that called make_server(), and every
  /// Server/ServerPort call comes from that thread. Backends without it keep their threads.
  bool io_thread = true;
};

/// Why a server could not start: errno and one line for the user.
struct StartError {
  int errno_value = 0;
  std::string message;  ///< e.g. "[Errno 98] address 127.0.0.1:8000 is already in use"
};

class Server : public ServerPort {
 public:
  /// Starts listening and serving on backend threads; every request the app must see is
  /// posted to `app`. The caller keeps `app` alive until join() returns.
  virtual ~Server() = default;
  /// "host:port" or the socket path actually bound (port 0 picks a free port).
  virtual std::string bound_address() const = 0;
  /// Readiness for the ready probe (503 until true; false again while draining).
  virtual void set_ready(bool ready) = 0;
  /// Graceful shutdown: stop accepting, answer in-flight requests with Connection: close, close
  /// idle connections; after `timeout_seconds` abort whatever is left. Returns at once.
  virtual void shutdown(double timeout_seconds) = 0;
  /// Waits until shutdown has finished and every backend thread has stopped.
  virtual void join() = 0;
  /// Requests currently with the app (for tests and logs).
  virtual std::size_t active_exchanges() const = 0;
  /// The backend's name ("blocking", "io_uring", "libevent").
  virtual const char* name() const = 0;

  // ---- caller-driven servers (ServerConfig::io_thread = false) --------------------------------
  /// The descriptor that becomes readable when pump() has work; -1 if this server runs its own
  /// threads (then pump() does nothing).
  virtual int poll_fd() const { return -1; }
  /// Does all the I/O that is ready without blocking: completions, parsing, writes, timers.
  /// Posts to the AppPort from inside this call; submit() and body_consumed() only queue
  /// until the next pump(). join() from another thread waits for the owner's pumps to finish
  /// the shutdown; join() on the owner thread pumps by itself.
  virtual void pump() {}
};

/// Binds and starts the compiled-in backend. Errors: the address is in use, permission denied,
/// a bad --fd, io_uring refused by the kernel (with the fix in the message).
struct StartResult {
  std::unique_ptr<Server> server;  ///< null on error
  StartError error;
};
StartResult make_server(const ServerConfig& config, AppPort& app);

}  // namespace lancet::backend
