// One connection of the io_uring backend. See connection.hpp for the theory of operation.
#include "backends/io_uring/connection.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <new>
#include <cerrno>
#include <string_view>

#include "backends/common/listener.hpp"
#include "backends/common/socket_io.hpp"

namespace lancet::backend::io_uring {
namespace {

/// pathsend: read() for the first bytes of a file; they go out with the head in one sendmsg. A
/// file this small costs no splice (two io-wq round trips); only what follows is spliced.
constexpr std::size_t kFileFirstChunk = 16 * 1024;
/// The pipe size asked for (F_SETPIPE_SZ): one fill and one drain splice per 256 KiB.
constexpr unsigned kSpliceChunk = 256 * 1024;
constexpr auto kLingerTime = std::chrono::milliseconds(500);

}  // namespace

// ---- Shared -----------------------------------------------------------------------------------

ExchangeId Shared::begin_exchange(Connection* conn) {
  const std::size_t limit = config.limit_concurrency;
  if (limit != 0 && exchanges.size() >= limit) return 0;
  const ExchangeId id = next_id++;
  exchanges.emplace(id, conn);
  active.store(exchanges.size());
  return id;
}

void Shared::end_exchange(ExchangeId id) {
  exchanges.erase(id);
  active.store(exchanges.size());
}

classify::Readiness Shared::readiness() const noexcept {
  if (draining.load()) return classify::Readiness::draining;
  return ready.load() ? classify::Readiness::ready : classify::Readiness::starting;
}

// ---- Connection: lifecycle --------------------------------------------------------------------

Connection::Connection(Shared& shared, int socket_fd)
    : fd(socket_fd),
      shared_(shared),
      session_(shared.config, *this, shared.outbox, common::socket_address(socket_fd, true),
               common::socket_address(socket_fd, false), Clock::now()) {}

Connection::~Connection() {
  if (file_fd_ >= 0) close(file_fd_);
  if (pipe_[0] >= 0) close(pipe_[0]);
  if (pipe_[1] >= 0) close(pipe_[1]);
}

void Connection::abort() noexcept {
  session_.client_gone();  // ClientGone if the app still owns the exchange; closing now
  if (file_fd_ >= 0) close(file_fd_);
  file_fd_ = -1;
}

void Connection::step(Clock::time_point now) noexcept {
  try {
    run(now);
  } catch (...) {
    session_.close(Closing::now);  // bad_alloc or a bug: drop the connection, never the process
  }
  if (closed()) abort();
}

void Connection::run(Clock::time_point now) {
  if (closed() || lingering_) return;
  if (!send_inflight) {  // output may change only while no sendmsg holds views of it
    refresh_date();
    // Before the inbox: ops queued after shutdown() must see request_close().
    if (shared_.drain_seen) session_.on_drain(now);
    take_inbox(now);
    do {
      session_.pump(now);
      refill_file();
    } while (session_.advance_cycle(now));
  }
  if (session_.closing() == Closing::after_flush && !session_.has_output() && file_fd_ < 0 &&
      !send_inflight) {
    if (session_.eof_seen()) {
      session_.close(Closing::now);
    } else {
      // A lingering close: stop sending, then read and drop what the client still sends for a
      // short while, so that unread bytes do not reset the connection before the client has
      // read our last response (RFC 9112 §9.6).
      ::shutdown(fd, SHUT_WR);
      lingering_ = true;
      linger_until_ = now + kLingerTime;
    }
  }
  // A FIN seen by the POLLRDHUP poll between exchanges: once the app owns an exchange whose
  // body cannot be read any more, the client is gone.
  if (hup_seen_ && session_.app_owns_exchange() && !wants_recv() && !recv_inflight) {
    session_.client_gone();
  }
}

void Connection::refresh_date() { session_.set_date(shared_.unix_second); }

// ---- completions ------------------------------------------------------------------------------

char* Connection::recv_buffer() noexcept {
  if (!own_buf_) own_buf_.reset(new (std::nothrow) char[kReadChunk]);
  return own_buf_.get();
}

// The loop keeps recv_inflight (a multishot recv stays armed across completions). -ENOBUFS:
// the buffer ring was empty; the bytes wait in the socket and the loop re-arms the recv.
bool Connection::on_recv(int res, std::string_view bytes) noexcept {
  if (closed() || res == -ECANCELED || res == -EAGAIN || res == -EINTR || res == -ENOBUFS) {
    return false;
  }
  try {
    if (lingering_) {
      lingered_ += res > 0 ? static_cast<std::uint64_t>(res) : 0;
      if (res <= 0 || lingered_ > common::Session::kMaxDiscardBytes) {
        session_.close(Closing::now);
      }
      return false;
    }
    if (res > 0) {
      // Lent to http1 (parsed in place by the next step(); the loop keeps the buffer), or
      // copied by an open WebSocket.
      return session_.receive_data(bytes, Clock::now());
    }
    if (res == 0) {
      session_.receive_eof();
      return false;
    }
    session_.client_gone();  // ECONNRESET and friends
  } catch (...) {
    session_.close(Closing::now);
  }
  return false;
}

void Connection::on_send(int res) noexcept {
  send_inflight = false;
  if (closed() || res == -EAGAIN || res == -EINTR) return;
  try {
    if (res < 0) {
      session_.client_gone();  // EPIPE, ECONNRESET: the client left
      return;
    }
    session_.written(static_cast<std::size_t>(res));
  } catch (...) {
    session_.close(Closing::now);
  }
}

void Connection::on_hup(int res) noexcept {
  poll_inflight = false;
  if (closed() || res < 0) return;
  if ((static_cast<unsigned>(res) & (POLLRDHUP | POLLHUP | POLLERR)) == 0) return;
  hup_seen_ = true;  // FIN or reset while the body window is full: the client is gone
  if (session_.app_owns_exchange()) session_.client_gone();
}

void Connection::on_timer(Clock::time_point now) noexcept {
  if (lingering_) {
    if (now >= linger_until_) session_.close(Closing::now);
    return;
  }
  try {
    session_.on_timer(now);  // header and keep-alive deadlines; WebSocket keepalive, close
  } catch (...) {
    session_.close(Closing::now);
  }
}

// ---- what to post next ------------------------------------------------------------------------

bool Connection::wants_recv() const noexcept {
  return lingering_ || session_.wants_read();
}

bool Connection::wants_send() const noexcept {
  return !lingering_ && !closed() && session_.has_output();
}

bool Connection::wants_hup_poll() const noexcept {
  return session_.closing() == Closing::no && session_.app_owns_exchange() &&
         !session_.eof_seen() && !hup_seen_ && !wants_recv();
}

msghdr* Connection::prepare_send() noexcept {
  std::array<std::string_view, kMaxIov> views;
  const std::size_t n = session_.pending_output(views);
  for (std::size_t i = 0; i < n; ++i) {
    iov_[i].iov_base = const_cast<char*>(views[i].data());
    iov_[i].iov_len = views[i].size();
  }
  msg_ = msghdr{};
  msg_.msg_iov = iov_.data();
  msg_.msg_iovlen = n;
  return &msg_;
}

std::optional<Clock::time_point> Connection::deadline() const noexcept {
  if (lingering_) return linger_until_;
  if (send_inflight && !session_.websocket_open()) return std::nullopt;
  return session_.deadline();
}

// ---- app side -> wire -------------------------------------------------------------------------

void Connection::add_ops(ExchangeId id, std::vector<Outbound>&& ops) {
  for (Outbound& op : ops) ops_in_.emplace_back(id, std::move(op));
}

void Connection::add_credit(ExchangeId id, std::size_t bytes) {
  credit_in_.emplace_back(id, bytes);
}

// Only while no sendmsg is in flight (run()): a WebSocket accept may take http1's output.
void Connection::take_inbox(Clock::time_point now) {
  for (const auto& [id, bytes] : credit_in_) session_.on_credit(id, bytes);
  credit_in_.clear();
  // Swapped with a kept vector, not a new one: both keep their capacity across turns.
  ops_taken_.swap(ops_in_);
  for (auto& [id, op] : ops_taken_) session_.on_op(id, op, now);
  ops_taken_.clear();
}

// http.response.pathsend: the head went out already; the file's bytes follow as body, read in
// chunks as the output queue drains (refill_file), or spliced after the first chunk
// (start_splice), then the response ends.
bool Connection::open_file(const std::string& path) {
  const common::OpenedFile opened = common::open_regular_file(path);
  if (opened.fd < 0) return false;
  file_fd_ = opened.fd;
  file_ = FileSend{};
  file_.size = opened.size;
  return true;
}

// TODO(io_uring): the file is read synchronously on the I/O thread (page cache reads are
// fast; IORING_OP_READ into a held buffer would keep a cold disk off the loop).
void Connection::refill_file() {
  http1::ServerConnection& http = session_.http();
  while (file_fd_ >= 0 && !file_.splicing &&
         http.pending_output_bytes() < common::kFileQueueBytes) {
    const bool first = !file_.probed;
    const std::size_t size = first ? kFileFirstChunk : common::kFileChunk;
    auto chunk = std::make_shared<std::string>(size, '\0');
    const ssize_t n = read(file_fd_, chunk->data(), chunk->size());
    if (n < 0 && errno == EINTR) continue;
    bool ok = n >= 0;
    if (n > 0) {
      chunk->resize(static_cast<std::size_t>(n));
      const std::string_view bytes = *chunk;
      ok = http.send_data(bytes, std::move(chunk)).has_value();  // lent, not copied
      file_.read += static_cast<std::uint64_t>(n);
      file_.probed = true;
      // A raw body: the rest of the file may go on the wire as it is.
      const http1::BodyFraming framing = http.body_framing();
      if (ok && first &&
          (framing == http1::BodyFraming::content_length ||
           framing == http1::BodyFraming::until_close) &&
          start_splice()) {
        return;
      }
      if (ok) continue;
    }
    if (ok) {
      finish_file();  // n == 0: end of file
    } else {
      session_.close(Closing::now);
    }
  }
}

// Closes the file and ends the response (the body is complete, or the response cannot be
// completed: then the connection closes).
void Connection::finish_file() {
  close(file_fd_);
  file_fd_ = -1;
  file_ = FileSend{};
  if (!session_.http().send_end()) session_.close(Closing::now);
}

/// Switches the rest of the file to splice, if the file has bytes left and a pipe
/// can be had; false: keep reading.
bool Connection::start_splice() {
  if (file_.size <= file_.read) return false;
  if (pipe_[0] < 0) {
    if (pipe2(pipe_, O_CLOEXEC) != 0) {
      pipe_[0] = pipe_[1] = -1;
      return false;
    }
    // A larger pipe means fewer splices; refused (pipe-max-size, the user's pipe quota), the
    // default size does.
    [[maybe_unused]] const int set = fcntl(pipe_[1], F_SETPIPE_SZ, static_cast<int>(kSpliceChunk));
    const int size = fcntl(pipe_[1], F_GETPIPE_SZ);
    pipe_capacity_ = size > 0 ? std::min(static_cast<unsigned>(size), kSpliceChunk) : 4096;
  }
  file_.splicing = true;
  file_.offset = file_.read;
  file_.remaining = file_.size - file_.read;
  return true;
}

std::optional<SpliceStep> Connection::next_splice() noexcept {
  if (!file_.splicing || file_fd_ < 0 || session_.closing() == Closing::now || send_inflight ||
      session_.http().wants_write()) {
    return std::nullopt;
  }
  if (file_.in_pipe > 0) {
    file_.filling = false;
    return SpliceStep{pipe_[0], -1, fd, static_cast<unsigned>(file_.in_pipe)};
  }
  if (file_.remaining == 0) return std::nullopt;
  file_.filling = true;
  const auto len = static_cast<unsigned>(std::min<std::uint64_t>(file_.remaining, pipe_capacity_));
  return SpliceStep{file_fd_, static_cast<std::int64_t>(file_.offset), pipe_[1], len};
}

void Connection::on_splice(int res) noexcept {
  if (session_.closing() == Closing::now || !file_.splicing) return;
  try {
    if (file_.filling) {
      if (res == -EINVAL && file_.offset == file_.read) {
        // The file cannot be spliced (its filesystem says no): read() it from where the splice
        // would have started, which is the file position (splice used explicit offsets).
        file_.splicing = false;
        return;
      }
      // 0: the file ended before its size at open (it shrank): the body cannot be completed.
      if (res <= 0 || !account_spliced(static_cast<std::size_t>(res))) {
        session_.close(Closing::now);
        return;
      }
      const auto n = static_cast<std::uint64_t>(res);
      file_.offset += n;
      file_.remaining -= std::min(n, file_.remaining);
      file_.in_pipe = static_cast<std::size_t>(res);
      return;
    }
    if (res <= 0) {  // the client left (EPIPE, ECONNRESET) or the splice was cancelled
      session_.close(Closing::now);
      return;
    }
    file_.in_pipe -= std::min(file_.in_pipe, static_cast<std::size_t>(res));
    if (file_.in_pipe == 0 && file_.remaining == 0) finish_file();
  } catch (...) {
    session_.close(Closing::now);
  }
}

// Each pipeful is counted by http1 (Content-Length) before it goes to the socket, so a file
// longer than Content-Length never puts a byte too many on the wire.
bool Connection::account_spliced(std::size_t n) {
  return session_.http().send_data_written(n).has_value();
}

}  // namespace lancet::backend::io_uring
