// One client connection of the io_uring backend: the protocol side of the echo-server shape.
//
// Layer: backends/io_uring. Knows no HTTP (the protocol side is common::Session's, as in every
// backend: backends/common/session.hpp) and no io_uring either: the loop (server.cpp) owns the
// ring, posts the operations this connection asks for and calls back on their completion.
//
// Theory of operation (the session's turn, made completion-driven)
//   Threads. Everything here runs on the I/O thread. The app thread reaches a connection only
//   through the loop's inbox (server.cpp), which hands ops and body credit over with
//   add_ops() / add_credit().
//
//   The loop calls on_recv / on_send / on_hup with each completion, on_timer when the
//   connection's deadline() passes, and then step() once per loop turn for every connection
//   touched in that turn. step() is the session's turn: refresh Date; on_drain() once shutdown
//   began; the inbox (credit first, then ops in order); pump(), refilling a pathsend body,
//   while advance_cycle() starts a pipelined cycle. Messages for the app go to
//   Shared::outbox, posted once per loop turn.
//
//   One send in flight. http1's pending_output() views are only valid until the next send*()
//   or consume_output(), so while a sendmsg is in flight the connection touches no output:
//   step() leaves the inbox and the parser alone until on_send() reports the bytes written.
//
//   Request body flow: while the session's body window is full wants_recv() is false and the
//   loop stops the (multishot) recv, so TCP pushes back on the client. Bytes read before the
//   recv stopped still arrive and wait in the session (bounded by what one loop turn can
//   read). A POLLRDHUP poll is posted once no recv is armed while the app owns the
//   exchange, so a client leaving with the window full is still seen (ClientGone).
//
//   http.response.pathsend (open_file: regular files only, common::open_regular_file; the
//   session never asks for a response without a body on the wire): the first kFileFirstChunk
//   bytes are read() into the output queue, so a small file leaves with its head in one
//   sendmsg. If http1 frames the body raw (body_framing(): Content-Length or close-delimited,
//   the bytes on the wire are the file's exactly; chunked adds framing), the rest is spliced,
//   file -> pipe -> socket, two unlinked IORING_OP_SPLICE steps per pipeful through a pipe of
//   the connection's own (created on first use, closed with the connection), once http1's
//   pending output (the head, the first chunk) is written. Each pipeful is counted by http1
//   before it goes out (send_data_written, in account_spliced): more than Content-Length
//   allows, a file that ends early (it shrank), or a failed splice to the socket (the client
//   left) closes the connection, never leaving a response hanging. A file splice cannot take
//   (-EINVAL on its first step) goes back to read(); so do chunked responses.
//
//   Endings: a connection closing after an answer (error, Abort, Connection:
//   close) lingers: SHUT_WR, then recv and drop for up to kLingerTime, so the client reads our
//   last response before any reset.
//
//   WebSocket: once the app accepted, the session's WebSocket owns the socket's bytes: recv
//   completions feed it, prepare_send() takes its output, its deadline joins the loop's
//   timers. Its timer may run while a sendmsg is in flight: queuing a ping moves no byte
//   already handed to the kernel (WebSocketSession's pending_output() contract).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backends/common/session.hpp"
#include "backends/port.hpp"
#include "backends/server.hpp"
#include "protocol/classify/probe_response.hpp"

namespace lancet::backend::io_uring {

using Clock = std::chrono::steady_clock;

class Connection;

/// Server-wide state. The atomics are written by the app thread (Server methods); the rest
/// belongs to the I/O thread.
struct Shared {
  Shared(const ServerConfig& cfg, AppPort& port) : config(cfg), app(port) {}

  const ServerConfig config;
  AppPort& app;
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};
  std::atomic<std::int64_t> abort_at_ns{INT64_MAX};  ///< steady clock; abort everything after
  std::atomic<std::size_t> active{0};                ///< exchanges with the app

  // I/O thread only
  std::vector<Inbound> outbox;  ///< posted to the app once per loop turn
  std::unordered_map<ExchangeId, Connection*> exchanges;
  ExchangeId next_id = 1;
  bool drain_seen = false;  ///< the loop saw `draining` (connections check this copy)
  /// The wall clock's second, read once per loop turn before connections step: responses take
  /// their Date from it instead of each connection reading the clock.
  std::int64_t unix_second = 0;

  /// Registers an exchange; 0 when limit_concurrency is reached.
  ExchangeId begin_exchange(Connection* conn);
  /// Unregisters `id` (idempotent): later ops for it are dropped.
  void end_exchange(ExchangeId id);
  classify::Readiness readiness() const noexcept;
};

/// One splice of a pathsend file: file -> pipe (fill) or pipe -> socket (drain).
struct SpliceStep {
  int fd_in = -1;
  std::int64_t off_in = -1;  ///< -1: the pipe (no offset)
  int fd_out = -1;
  unsigned len = 0;
};

// 16-byte aligned: the low 4 bits of a completion's user_data hold the Op (server.cpp).
class alignas(16) Connection : private common::Session::Host {
 public:
  /// Takes ownership of the connected socket `fd` (closed by the loop, not here).
  Connection(Shared& shared, int fd);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  static constexpr std::size_t kReadChunk = 64 * 1024;
  static constexpr std::size_t kMaxIov = 64;

  // ---- completions and inputs (I/O thread); none of these throw ------------------------------
  /// A recv completed: `res` as the CQE has it; for res > 0, `bytes` are what was read
  /// (a provided buffer or recv_buffer()). True: the bytes were lent to the HTTP parser (parsed
  /// in place by the next step()) and must stay valid until keep_input(); false: copied
  /// before this returned.
  bool on_recv(int res, std::string_view bytes) noexcept;
  /// Copies what is left unparsed of lent bytes (after step(), before their buffer is reused).
  void keep_input() { session_.keep_input(); }
  void on_send(int res) noexcept;
  void on_hup(int res) noexcept;
  void on_splice(int res) noexcept;
  void on_timer(Clock::time_point now) noexcept;
  void add_ops(ExchangeId id, std::vector<Outbound>&& ops);
  void add_credit(ExchangeId id, std::size_t bytes);
  /// Runs the protocol as far as it goes (see the file comment). Never throws: a failure
  /// closes the connection.
  void step(Clock::time_point now) noexcept;
  /// Ends the connection now: ClientGone if the app still owns the exchange. Idempotent.
  void abort() noexcept;

  // ---- what the loop should post next ----------------------------------------------------------
  bool closed() const noexcept { return session_.closing() == Closing::now; }
  bool wants_recv() const noexcept;
  bool wants_send() const noexcept;
  bool wants_hup_poll() const noexcept;
  /// The connection's own buffer for a one-shot recv (kReadChunk bytes), allocated on first
  /// use: only when the server has no provided-buffer ring (server.cpp). Null when out of
  /// memory.
  char* recv_buffer() noexcept;
  /// Builds the msghdr for a sendmsg of pending output (valid until on_send()).
  msghdr* prepare_send() noexcept;
  /// The next splice of a pathsend file, when one is due (the head and the first chunk are
  /// written, no sendmsg is in flight); the loop posts it and reports on_splice().
  std::optional<SpliceStep> next_splice() noexcept;
  /// When on_timer() should run next, if ever.
  std::optional<Clock::time_point> deadline() const noexcept;

  const int fd;
  // ---- loop bookkeeping (server.cpp) ---------------------------------------------------------
  bool recv_inflight = false;    ///< a recv is armed (multishot: until a CQE without F_MORE)
  bool recv_multishot = false;   ///< the armed recv is multishot (it must be cancelled to stop)
  bool recv_cancelling = false;  ///< a cancel of the multishot recv was submitted
  bool send_inflight = false;
  bool poll_inflight = false;
  bool splice_inflight = false;
  bool cancel_sent = false;
  bool dirty = false;
  bool lent_input = false;  ///< on_recv() lent bytes: keep_input() after the next step()

 private:
  using Closing = common::Session::Closing;

  // ---- common::Session::Host -------------------------------------------------------------------
  ExchangeId begin_exchange() override { return shared_.begin_exchange(this); }
  void end_exchange(ExchangeId id) override { shared_.end_exchange(id); }
  classify::Readiness readiness() const override { return shared_.readiness(); }
  bool open_file(const std::string& path) override;
  bool sending_file() const override { return file_fd_ >= 0; }
  /// The app side answers only on its own thread (caller-driven); elsewhere it gives none.
  BodyBlock body_block(std::size_t n) override { return shared_.app.body_block(n); }

  void run(Clock::time_point now);
  void refresh_date();
  void take_inbox(Clock::time_point now);
  void refill_file();
  bool start_splice();
  bool account_spliced(std::size_t n);
  void finish_file();

  Shared& shared_;
  common::Session session_;
  std::vector<std::pair<ExchangeId, Outbound>> ops_in_;
  std::vector<std::pair<ExchangeId, Outbound>> ops_taken_;  // take_inbox's; capacity kept
  std::vector<std::pair<ExchangeId, std::size_t>> credit_in_;
  std::unique_ptr<char[]> own_buf_;  // one-shot recv without a buffer ring (recv_buffer())
  std::array<iovec, kMaxIov> iov_{};
  msghdr msg_{};
  bool hup_seen_ = false;   // the POLLRDHUP poll fired
  bool lingering_ = false;  // half-closed after our last response, reading and dropping
  Clock::time_point linger_until_;
  std::uint64_t lingered_ = 0;
  int file_fd_ = -1;
  /// The pathsend file being sent (file_fd_): read() into the output queue, or spliced.
  struct FileSend {
    std::uint64_t size = 0;       ///< st_size at open (pathsend opens regular files only)
    std::uint64_t read = 0;       ///< bytes read() so far (the file position)
    bool probed = false;          ///< the first chunk went to http1: framing is known
    bool splicing = false;        ///< the rest goes file -> pipe -> socket (on_splice())
    bool filling = false;         ///< the splice in flight is file -> pipe
    std::uint64_t offset = 0;     ///< next file offset to splice
    std::uint64_t remaining = 0;  ///< file bytes not yet spliced into the pipe
    std::size_t in_pipe = 0;      ///< bytes in the pipe, not yet spliced to the socket
  };
  FileSend file_;
  int pipe_[2] = {-1, -1};  // created on a connection's first splice, closed with it
  unsigned pipe_capacity_ = 0;
};

}  // namespace lancet::backend::io_uring
