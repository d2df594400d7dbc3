// The io_uring backend's Server: one ring, every connection on it, driven by an I/O thread of its
// own or by the caller's thread (the asyncio loop's).
//
// Layer: backends/io_uring. Implements backends/server.hpp (make_server) and the ServerPort.
// Shaped like the liburing echo server: on_accept, on_recv, on_send, on_timer, close.
//
// Theory of operation
//   Ring setup (on the I/O thread, which is the ring's only submitter):
//   IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN (6.1+: completions are run only
//   when this thread waits for them, in one batch, with no interrupting task work); if the
//   kernel refuses those flags (-EINVAL), IORING_SETUP_COOP_TASKRUN (5.19+: task work is not
//   forced with an IPI, it runs on our next io_uring_enter anyway); else no flags. EPERM/ENOSYS
//   (seccomp, kernel.io_uring_disabled) fail make_server() with one line naming the fix.
//
//   Operations, one of each kind at most per connection:
//     accept   multishot on the listening socket; cancelled while at max_connections (clients
//              then wait in the kernel's backlog, as with the blocking backend) and on drain;
//     recv     multishot, with IOSQE_BUFFER_SELECT from the server's provided-buffer ring
//              (buffer_ring.hpp: kRecvBufferCount x kRecvBufferSize, registered by hand, as
//              liburing 2.3 has no helper). Armed once while the connection wants bytes and
//              left armed across completions (IORING_CQE_F_MORE); each CQE's buffer is fed to
//              the connection. HTTP bytes are lent to http1 (lend_data: parsed in place, the
//              body copied once into the exchange's staging) and the buffer goes back to the
//              ring after that connection's next step() has parsed them and kept any
//              unparsed rest (step_dirty: keep_input, recycle, publish, all before the next
//              submit); WebSocket bytes are copied at once and the buffer goes back in the
//              same batch (BufferRing::publish() after the batch). Flow control: when the
//              request body window or the WebSocket queue is full (wants_recv() false) the
//              recv is cancelled (io_uring_prep_cancel64 on its user_data); completions that
//              were already on their way are still delivered, never dropped, and the recv
//              counts as in flight until its final CQE (no F_MORE). A CQE without F_MORE
//              (EOF, error, -ENOBUFS when the ring ran dry in one burst, the cancel, or the
//              kernel ending it) ends it; post_io() re-arms it while the connection wants
//              bytes. -ENOBUFS leaves the bytes in the socket and cannot spin: the ring is
//              full again (no buffer outlives the next step_dirty()) before the next re-arm is
//              submitted.
//              Fallback (a kernel without buffer rings, before 5.19: registration fails; or
//              one refusing multishot recv with -EINVAL, 5.19): one-shot recv into a
//              kReadChunk buffer each connection allocates on first use, as before the ring.
//     sendmsg  iovecs straight from http1's pending_output() (bodies are not copied), one in
//              flight; consume_output(res) on completion; a plain send when there is one
//              buffer (most small responses);
//     poll     POLLRDHUP while the app owns an exchange and no recv is posted (window full);
//     read     of the wake-up eventfd, re-posted on each completion.
//     splice   a pathsend file after its first chunk, when the response is unframed
//              (Content-Length, close-delimited): file -> the connection's pipe -> socket,
//              two steps, one in flight, never while a sendmsg is (connection.hpp);
//   Completion context (user_data), documented here once:
//       user_data = (uintptr_t)Connection* | Op        (Connection is 16-byte aligned)
//   with Op in the low 4 bits; the pointer is null for accept, wake and cancel. A connection is
//   freed only when none of its recv/send/poll/splice is in flight, so every tagged pointer is
//   live when its completion arrives (a closing connection cancels its socket's ops by fd and
//   waits for each final CQE, the multishot recv's included; a file -> pipe splice is not on
//   the socket and ends by itself: its pipe is empty and as large as the step). Cancel
//   completions carry no pointer and are ignored.
//
//   One loop turn: take the app inbox (ops, body credit) -> graceful shutdown / abort
//   deadline -> timers due -> step() every connection touched this turn (connection.hpp) ->
//   post the turn's messages to the app in one batch -> arm accept -> one
//   io_uring_submit_and_wait_timeout() (submits everything queued, waits for one completion
//   or the nearest deadline) -> handle all completions.
//
//   Timers: the loop computes them. Each connection reports its deadline (header 408,
//   keep-alive idle, lingering close); the nearest one, the shutdown abort deadline and an
//   accept retry bound the wait (at most 1 s); all connections are scanned when the nearest
//   deadline passes.
//
//   Caller-driven (ServerConfig::io_thread = false; what the bridge uses unless --io-thread):
//   no I/O thread. start() sets the ring up on the caller's thread and registers wake_fd_ with
//   it (io_uring_register_eventfd: every completion makes it readable); the caller watches
//   poll_fd() and calls pump(), which runs the same turn as loop() without waiting, repeated
//   while completions keep coming (at most kPumpRounds, then it re-arms the eventfd itself).
//   submit() / body_consumed() go straight to the connection and are written by the next
//   pump(). Deadlines arrive as an IORING_OP_TIMEOUT. The app side is on the same thread, so
//   a request costs no thread hand-off and no eventfd round trip.
//
//   Cross-thread (threaded mode): submit() / body_consumed() append to an inbox under `mu_` and write the
//   eventfd at most once per loop turn (`wake_pending_`), and not at all while the app side
//   holds wake-ups for a batch (hold_wakeups(); release_wakeups() writes it once); the ring's
//   read of that eventfd completes and the loop takes the inbox. shutdown() marks draining,
//   refuses new connections at once (common::refuse_new_connections: never for a borrowed
//   --fd socket) and wakes the loop; join() waits for the I/O thread, which ends once draining
//   and every connection is closed.
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

#include "backends/common/idle_memory.hpp"
#include "backends/common/listener.hpp"  // open_listener(): same sockets, same StartError lines
#include "backends/io_uring/buffer_ring.hpp"
#include "backends/io_uring/connection.hpp"
#include "backends/server.hpp"

namespace lancet::backend {
namespace io_uring {
namespace {

constexpr unsigned kRingEntries = 512;
constexpr auto kMaxWait = std::chrono::seconds(1);
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr int kPumpRounds = 8;  // caller-driven: turns per pump() before yielding to the caller
/// Tests only: set (to anything but "0") to skip the provided-buffer ring and run the one-shot
/// fallback that kernels before 5.19 get (backend_test and pytest run both ways).
constexpr const char* kNoBufferRingEnv = "LANCET_TEST_URING_NO_BUFFER_RING";

enum class Op : std::uint64_t {
  accept = 1, wake = 2, cancel = 3, recv = 4, send = 5, hup = 6, timer = 7, splice = 8
};
constexpr unsigned kOpBits = 4;
constexpr std::uint64_t kOpMask = (1u << kOpBits) - 1;
static_assert(alignof(Connection) >= 16, "the low 4 bits of user_data hold the Op");

std::uint64_t tag(Connection* conn, Op op) {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(conn)) |
         static_cast<std::uint64_t>(op);
}

class UringServer final : public Server {
 public:
  UringServer(const ServerConfig& config, AppPort& app, common::Listener listener, int wake_fd)
      : shared_(config, app),
        listener_(std::move(listener)),
        address_(listener_.address),
        wake_fd_(wake_fd),
        caller_driven_(!config.io_thread) {}

  ~UringServer() override {
    if (!shared_.draining.load()) shutdown(0);
    if (caller_driven_ && std::this_thread::get_id() != owner_) {
      // Nobody pumps from here: finish at once (the owner no longer uses the ring).
      if (ring_ready_ && !finished_.load()) finish();
    } else {
      join();
    }
    if (listener_.fd >= 0) close(listener_.fd);  // the loop never ran
    close(wake_fd_);
  }

  /// Sets up the ring (on the I/O thread, or here when caller-driven); a non-empty message on
  /// failure.
  StartError start() {
    int rc = 0;
    if (caller_driven_) {
      owner_ = std::this_thread::get_id();
      rc = setup_ring();
      if (rc == 0) {
        rc = io_uring_register_eventfd(&ring_, wake_fd_);
        if (rc == 0) {
          ring_ready_ = true;
          next_scan_ = Clock::now();
          wake();  // the first pump() arms accept
          return {};
        }
        io_uring_queue_exit(&ring_);
      }
    } else {
      try {
        thread_ = std::thread([this] { thread_main(); });
      } catch (const std::system_error& e) {
        return StartError{e.code().value(), "cannot start the io_uring I/O thread"};
      }
      rc = ring_result_.get_future().get();
      if (rc == 0) return {};
      thread_.join();
    }
    const int err = -rc;
    if (err == EPERM || err == ENOSYS || err == EACCES) {
      return StartError{err, std::string("io_uring is not available here (") +
                                 std::strerror(err) +
                                 "): rebuild with -DLANCET_BACKEND=libevent or blocking, or allow "
                                 "io_uring (Docker: --security-opt seccomp=unconfined)"};
    }
    return StartError{err, "[Errno " + std::to_string(err) + "] cannot set up io_uring: " +
                               std::strerror(err)};
  }

  // ---- ServerPort (app thread) ---------------------------------------------------------------
  void submit(ExchangeId id, std::vector<Outbound>&& ops) override {
    if (caller_driven_) {  // the owner thread: straight to the connection; pump() writes
      const auto it = shared_.exchanges.find(id);
      if (it == shared_.exchanges.end()) return;
      it->second->add_ops(id, std::move(ops));
      mark_dirty(it->second);
      return;
    }
    {
      std::lock_guard lock(mu_);
      ops_in_.emplace_back(id, std::move(ops));
    }
    wake_or_defer();
  }
  void body_consumed(ExchangeId id, std::size_t bytes) override {
    if (caller_driven_) {
      const auto it = shared_.exchanges.find(id);
      if (it == shared_.exchanges.end()) return;
      it->second->add_credit(id, bytes);
      mark_dirty(it->second);
      return;
    }
    {
      std::lock_guard lock(mu_);
      credit_in_.emplace_back(id, bytes);
    }
    wake_or_defer();
  }
  void hold_wakeups() override { holding_ = true; }
  void release_wakeups() override {
    holding_ = false;
    if (deferred_) {
      deferred_ = false;
      wake();
    }
  }

  // ---- Server --------------------------------------------------------------------------------
  std::string bound_address() const override { return address_; }
  void set_ready(bool ready) override { shared_.ready.store(ready); }
  std::size_t active_exchanges() const override { return shared_.active.load(); }
  const char* name() const override { return "io_uring"; }

  void shutdown(double timeout_seconds) override {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(timeout_seconds));
    const std::int64_t at =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    std::int64_t current = shared_.abort_at_ns.load();
    while (at < current && !shared_.abort_at_ns.compare_exchange_weak(current, at)) {
    }
    shared_.draining.store(true);
    {
      std::lock_guard lock(listen_mu_);  // the I/O thread may be closing it
      common::refuse_new_connections(listener_);
    }
    wake_pending_.store(false);
    wake();
  }

  void join() override {
    if (caller_driven_) {
      if (!ring_ready_) return;
      if (std::this_thread::get_id() == owner_) {
        while (!finished_.load()) {  // nobody else pumps while the owner waits here
          pump();
          pollfd p{wake_fd_, POLLIN, 0};
          if (!finished_.load()) poll(&p, 1, 100);
        }
        return;
      }
      std::unique_lock lock(join_mu_);
      finished_cv_.wait(lock, [this] { return finished_.load(); });
      return;
    }
    std::lock_guard lock(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

  // ---- caller-driven (the owner thread) ------------------------------------------------------
  int poll_fd() const override { return caller_driven_ ? wake_fd_ : -1; }

  /// One loop turn as loop() runs them, repeated while completions keep arriving (bounded), but
  /// never waiting: the ring's registered eventfd (wake_fd_) tells the caller when to come back.
  void pump() override {
    if (!caller_driven_ || !ring_ready_ || finished_.load()) return;
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = read(wake_fd_, &count, sizeof count);  // clear it first
    for (int round = 0; round < kPumpRounds; ++round) {
      const Clock::time_point now = Clock::now();
      wake_pending_.store(false);
      check_shutdown(now);
      if (now >= next_scan_) run_timers(now);
      step_dirty(now);
      post_outbox();
      arm_accept(now);
      if (shared_.drain_seen && conns_.empty()) {
        finish();
        return;
      }
      arm_timer(now);
      io_uring_submit_and_get_events(&ring_);
      const unsigned seen = handle_ready();
      // The eventfd only fires when new work arrives: work the kernel still holds (it runs a
      // bounded batch per enter; overflowed completions) must be taken before returning.
      const unsigned held = IO_URING_READ_ONCE(*ring_.sq.kflags) &
                            (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW);
      if (seen == 0 && dirty_.empty() && held == 0) return;
    }
    wake();  // still busy: come back in the caller's next loop round
  }

 private:
  void wake_or_defer() noexcept {
    if (holding_) {
      deferred_ = true;
    } else {
      wake();
    }
  }

  void wake() noexcept {
    if (wake_pending_.exchange(true)) return;  // one write per loop turn is enough
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = write(wake_fd_, &one, sizeof one);
  }

  // ---- the I/O thread ------------------------------------------------------------------------
  int setup_ring() noexcept {
    io_uring_params params{};
    // TASKRUN_FLAG: the kernel sets IORING_SQ_TASKRUN while completions wait to be run, which
    // pump() checks before it returns (it may run only part of them per io_uring_enter).
    params.flags =
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    int rc = io_uring_queue_init_params(kRingEntries, &ring_, &params);
    if (rc == -EINVAL) {  // before 6.1: no DEFER_TASKRUN; COOP_TASKRUN is the next best
      params = io_uring_params{};
      params.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
      rc = io_uring_queue_init_params(kRingEntries, &ring_, &params);
    }
    if (rc == -EINVAL) {  // before 5.19
      params = io_uring_params{};
      rc = io_uring_queue_init_params(kRingEntries, &ring_, &params);
    }
    if (rc == 0) setup_recv_buffers();
    return rc;
  }

  /// Multishot recv into the server's provided-buffer ring where the kernel has both (6.0+).
  /// Fallback: registration fails (-EINVAL before 5.19) -> one-shot recv into a buffer of each
  /// connection's own, as before the ring existed; a multishot recv refused with -EINVAL
  /// (5.19: rings, no multishot recv) switches to the same (on_recv_completion).
  void setup_recv_buffers() noexcept {
    const char* off = std::getenv(kNoBufferRingEnv);
    if (off != nullptr && *off != '\0' && std::strcmp(off, "0") != 0) return;
    provided_ = buffers_.setup(ring_) == 0;
  }

  void thread_main() noexcept {
    const int rc = setup_ring();
    ring_result_.set_value(rc);
    if (rc < 0) return;
    try {
      loop();
    } catch (...) {
      // bad_alloc outside any connection: nothing sensible is left to serve
    }
    teardown();
  }

  /// Caller-driven: the shutdown is over (or the server is destroyed); wakes join()ers.
  void finish() noexcept {
    teardown();
    {
      std::lock_guard lock(join_mu_);
      finished_.store(true);
    }
    finished_cv_.notify_all();
  }

  void teardown() noexcept {
    for (auto& [ptr, conn] : conns_) conn->abort();
    post_outbox();
    {
      std::lock_guard lock(listen_mu_);
      close(listener_.fd);
      listener_.fd = -1;
      if (!listener_.unix_path.empty()) unlink(listener_.unix_path.c_str());
    }
    io_uring_queue_exit(&ring_);  // cancels what is still in flight, unregisters the buffers
    buffers_.teardown();
    for (auto& [ptr, conn] : conns_) close(conn->fd);
    conns_.clear();
  }

  void loop() {
    post_wake_read();
    next_scan_ = Clock::now();
    for (;;) {
      const Clock::time_point now = Clock::now();
      take_app_inbox();
      check_shutdown(now);
      if (now >= next_scan_) run_timers(now);
      step_dirty(now);
      // Responses first: hand this turn's sends to the kernel before waking the app thread,
      // which (on a shared core) may run at once and hold the CPU for its whole batch.
      if (!shared_.outbox.empty() && io_uring_sq_ready(&ring_) != 0) io_uring_submit(&ring_);
      post_outbox();
      arm_accept(now);
      if (shared_.drain_seen && conns_.empty()) return;
      wait_and_handle(now);
    }
  }

  void wait_and_handle(Clock::time_point now) {
    Clock::time_point until = std::min(next_scan_, now + kMaxWait);
    const std::int64_t abort_ns = shared_.abort_at_ns.load();
    if (abort_ns != INT64_MAX) {
      until = std::min(until, Clock::time_point(std::chrono::nanoseconds(abort_ns)));
    }
    if (!accept_armed_ && !shared_.drain_seen) until = std::min(until, accept_retry_at_);
    const auto wait = std::max(Clock::duration::zero(), until - now);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    __kernel_timespec ts{ns / 1'000'000'000, ns % 1'000'000'000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);  // -ETIME: a deadline
    handle_ready();
  }

  unsigned handle_ready() {
    io_uring_cqe* cqe = nullptr;
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      handle(*cqe);
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    buffers_.publish();  // every buffer read in this batch is the kernel's again
    return seen;
  }

  /// Caller-driven: deadlines come back as a ring timeout (its completion wakes the caller).
  /// One timer is current; an earlier deadline arms a new one and the old one fires unheeded.
  void arm_timer(Clock::time_point now) {
    Clock::time_point until = std::min(next_scan_, now + kMaxWait);
    const std::int64_t abort_ns = shared_.abort_at_ns.load();
    if (abort_ns != INT64_MAX) {
      until = std::min(until, Clock::time_point(std::chrono::nanoseconds(abort_ns)));
    }
    if (!accept_armed_ && !shared_.drain_seen) until = std::min(until, accept_retry_at_);
    if (timer_armed_ && timer_at_ <= until) return;
    io_uring_sqe* s = get_sqe();
    if (s == nullptr) return;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::max(Clock::duration::zero(), until - now))
                        .count();
    timer_ts_ = __kernel_timespec{ns / 1'000'000'000, ns % 1'000'000'000};
    io_uring_prep_timeout(s, &timer_ts_, 0, 0);  // read by the kernel at submit, just below
    ++timer_seq_;
    io_uring_sqe_set_data64(s, (timer_seq_ << kOpBits) | static_cast<std::uint64_t>(Op::timer));
    timer_armed_ = true;
    timer_at_ = until;
  }

  void handle(const io_uring_cqe& cqe) {
    if (cqe.user_data == LIBURING_UDATA_TIMEOUT) return;  // liburing's own, before EXT_ARG
    const auto op = static_cast<Op>(cqe.user_data & kOpMask);
    auto* conn = reinterpret_cast<Connection*>(static_cast<std::uintptr_t>(cqe.user_data & ~kOpMask));
    switch (op) {
      case Op::accept: return on_accept(cqe.res, cqe.flags);
      case Op::wake: return post_wake_read();
      case Op::cancel: return;
      case Op::timer:
        if ((cqe.user_data >> kOpBits) == timer_seq_) timer_armed_ = false;
        return;
      case Op::recv: on_recv_completion(*conn, cqe); break;
      case Op::send: conn->on_send(cqe.res); break;
      case Op::hup: conn->on_hup(cqe.res); break;
      case Op::splice:
        conn->splice_inflight = false;
        conn->on_splice(cqe.res);
        break;
    }
    mark_dirty(conn);
  }

  /// A recv CQE. A multishot recv stays armed while IORING_CQE_F_MORE is set; without it the
  /// recv has ended (EOF, error, -ENOBUFS, cancelled, or the kernel stopped it) and post_io()
  /// re-arms it if the connection still wants bytes. A provided buffer goes back to the ring
  /// at once when the connection copied its bytes (WebSocket, lingering), else after the
  /// connection's next step() (lent to http1: step_dirty()).
  void on_recv_completion(Connection& c, const io_uring_cqe& cqe) {
    const bool multishot = c.recv_multishot;
    if ((cqe.flags & IORING_CQE_F_MORE) == 0) {
      c.recv_inflight = false;
      c.recv_multishot = false;
      c.recv_cancelling = false;
    }
    if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
      const auto id = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
      const std::size_t n = cqe.res > 0 ? static_cast<std::size_t>(cqe.res) : 0;
      if (c.on_recv(cqe.res, buffers_.bytes(id, n))) {
        c.lent_input = true;
        lent_buffers_.push_back(id);  // back to the ring after the connection's next step()
      } else {
        buffers_.recycle(id);
      }
      return;
    }
    if (cqe.res == -EINVAL && multishot) {
      provided_ = false;  // 5.19: a buffer ring but no multishot recv; one-shot from now on
      return;
    }
    if (cqe.res > 0 && !multishot) {  // one-shot into the connection's own buffer
      c.lent_input |=
          c.on_recv(cqe.res, std::string_view(c.recv_buffer(), static_cast<std::size_t>(cqe.res)));
      return;
    }
    c.on_recv(cqe.res, {});
  }

  void on_accept(int res, std::uint32_t flags) {
    if ((flags & IORING_CQE_F_MORE) == 0) {
      accept_armed_ = false;
      accept_cancelling_ = false;
    }
    if (res < 0) {
      // EMFILE, ENFILE, ENOBUFS: out of resources; retry a little later instead of spinning.
      if (res != -ECANCELED) accept_retry_at_ = Clock::now() + kAcceptRetry;
      return;
    }
    if (shared_.drain_seen) {
      close(res);
      return;
    }
    const int one = 1;
    setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails harmlessly on Unix
    try {
      auto conn = std::make_unique<Connection>(shared_, res);
      Connection* raw = conn.get();
      conns_.emplace(raw, std::move(conn));
      mark_dirty(raw);
    } catch (...) {
      close(res);
    }
  }

  void arm_accept(Clock::time_point now) {
    const std::size_t limit = shared_.config.max_connections;  // 0: no limit
    const bool room = limit == 0 || conns_.size() < limit;
    if (shared_.drain_seen || !room) {
      if (accept_armed_ && !accept_cancelling_) {
        if (io_uring_sqe* s = get_sqe()) {
          io_uring_prep_cancel64(s, tag(nullptr, Op::accept), 0);
          io_uring_sqe_set_data64(s, tag(nullptr, Op::cancel));
          accept_cancelling_ = true;
        }
      }
      return;
    }
    if (accept_armed_ || now < accept_retry_at_) return;
    if (io_uring_sqe* s = get_sqe()) {
      io_uring_prep_multishot_accept(s, listener_.fd, nullptr, nullptr, SOCK_CLOEXEC);
      io_uring_sqe_set_data64(s, tag(nullptr, Op::accept));
      accept_armed_ = true;
    }
  }

  void post_wake_read() {
    if (io_uring_sqe* s = get_sqe()) {
      io_uring_prep_read(s, wake_fd_, &wake_value_, sizeof wake_value_, 0);
      io_uring_sqe_set_data64(s, tag(nullptr, Op::wake));
    }
  }

  void take_app_inbox() {
    wake_pending_.store(false);  // before taking: a later submit() writes the eventfd again
    std::vector<std::pair<ExchangeId, std::vector<Outbound>>> ops;
    std::vector<std::pair<ExchangeId, std::size_t>> credit;
    {
      std::lock_guard lock(mu_);
      ops.swap(ops_in_);
      credit.swap(credit_in_);
    }
    for (auto& [id, bytes] : credit) {
      const auto it = shared_.exchanges.find(id);
      if (it == shared_.exchanges.end()) continue;  // finished or unknown: dropped
      it->second->add_credit(id, bytes);
      mark_dirty(it->second);
    }
    for (auto& [id, list] : ops) {
      const auto it = shared_.exchanges.find(id);
      if (it == shared_.exchanges.end()) continue;
      it->second->add_ops(id, std::move(list));
      mark_dirty(it->second);
    }
  }

  void check_shutdown(Clock::time_point now) {
    if (shared_.draining.load() && !shared_.drain_seen) {
      shared_.drain_seen = true;  // every connection looks at it in its next step()
      for (auto& [ptr, conn] : conns_) mark_dirty(ptr);
    }
    const std::int64_t abort_ns = shared_.abort_at_ns.load();
    if (abort_ns == INT64_MAX || now < Clock::time_point(std::chrono::nanoseconds(abort_ns))) {
      return;
    }
    for (auto& [ptr, conn] : conns_) {  // graceful shutdown ran out of time
      if (conn->closed()) continue;
      conn->abort();
      mark_dirty(ptr);
    }
  }

  void run_timers(Clock::time_point now) {
    next_scan_ = now + kMaxWait;
    for (auto& [ptr, conn] : conns_) {
      const auto due = conn->deadline();
      if (!due) continue;
      if (*due <= now) {
        conn->on_timer(now);
        mark_dirty(ptr);
      } else {
        next_scan_ = std::min(next_scan_, *due);
      }
    }
  }

  void step_dirty(Clock::time_point now) {
    if (!dirty_.empty()) {
      shared_.unix_second = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    }
    // dirty_ takes the spare's capacity, so a turn allocates nothing.
    std::vector<Connection*> dirty = std::exchange(dirty_, std::move(spare_dirty_));
    for (Connection* conn : dirty) {
      conn->dirty = false;
      conn->step(now);
      if (conn->lent_input) {
        conn->lent_input = false;
        try {
          conn->keep_input();  // before its buffer is reused: the next recv, or the ring
        } catch (...) {
          conn->abort();  // out of memory copying a partial head: drop the connection
        }
      }
      post_io(*conn);
    }
    dirty.clear();
    spare_dirty_ = std::move(dirty);
    if (!lent_buffers_.empty()) {
      for (const std::uint16_t id : lent_buffers_) buffers_.recycle(id);
      lent_buffers_.clear();
      buffers_.publish();  // before the next submit, which may re-arm a recv that ran dry
    }
  }

  /// Posts what the connection wants next, or closes it (socket closed, memory freed) once
  /// nothing of it is in flight.
  void post_io(Connection& c) {
    if (c.closed()) {
      if (!c.recv_inflight && !c.send_inflight && !c.poll_inflight && !c.splice_inflight) {
        close(c.fd);
        conns_.erase(&c);
        idle_memory_.on_connection_closed(conns_.size(), Clock::now());
        return;
      }
      if (!c.cancel_sent) {
        if (io_uring_sqe* s = get_sqe()) {
          io_uring_prep_cancel_fd(s, c.fd, IORING_ASYNC_CANCEL_ALL);
          io_uring_sqe_set_data64(s, tag(nullptr, Op::cancel));
          c.cancel_sent = true;
        }
      }
      return;
    }
    if (!c.send_inflight && c.wants_send()) {
      if (io_uring_sqe* s = get_sqe()) {
        const msghdr* m = c.prepare_send();
        if (m->msg_iovlen == 1) {
          // One buffer (a small response: head and body in one segment): a plain send, which
          // spares the kernel copying and checking a msghdr and its iovec array.
          io_uring_prep_send(s, c.fd, m->msg_iov[0].iov_base, m->msg_iov[0].iov_len, MSG_NOSIGNAL);
        } else {
          io_uring_prep_sendmsg(s, c.fd, m, MSG_NOSIGNAL);
        }
        io_uring_sqe_set_data64(s, tag(&c, Op::send));
        c.send_inflight = true;
      }
    }
    if (!c.send_inflight && !c.splice_inflight) {
      if (const auto step = c.next_splice()) {
        if (io_uring_sqe* s = get_sqe()) {
          io_uring_prep_splice(s, step->fd_in, step->off_in, step->fd_out, -1, step->len, 0);
          io_uring_sqe_set_data64(s, tag(&c, Op::splice));
          c.splice_inflight = true;
        }
      }
    }
    const bool wants_recv = c.wants_recv();
    if (!c.recv_inflight && wants_recv) {
      arm_recv(c);
    } else if (c.recv_inflight && c.recv_multishot && !c.recv_cancelling && !wants_recv) {
      // Flow control: the body window or the WebSocket queue is full. Stop the multishot recv
      // so TCP pushes back; what it read before the cancel still arrives and is kept.
      if (io_uring_sqe* s = get_sqe()) {
        io_uring_prep_cancel64(s, tag(&c, Op::recv), 0);
        io_uring_sqe_set_data64(s, tag(nullptr, Op::cancel));
        c.recv_cancelling = true;
      }
    } else if (!c.recv_inflight && !c.poll_inflight && c.wants_hup_poll()) {
      if (io_uring_sqe* s = get_sqe()) {
        io_uring_prep_poll_add(s, c.fd, POLLRDHUP);
        io_uring_sqe_set_data64(s, tag(&c, Op::hup));
        c.poll_inflight = true;
      }
    }
    if (const auto due = c.deadline()) next_scan_ = std::min(next_scan_, *due);
  }

  /// Multishot recv with buffer selection from the ring, or (fallback) one-shot recv into the
  /// connection's own buffer.
  void arm_recv(Connection& c) {
    char* own = provided_ ? nullptr : c.recv_buffer();
    if (!provided_ && own == nullptr) {  // out of memory for the buffer: drop this connection
      c.abort();
      mark_dirty(&c);
      return;
    }
    io_uring_sqe* s = get_sqe();
    if (s == nullptr) return;
    if (provided_) {
      io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);  // len 0: the buffer's size
      s->flags |= IOSQE_BUFFER_SELECT;
      s->buf_group = buffers_.group();
    } else {
      io_uring_prep_recv(s, c.fd, own, Connection::kReadChunk, 0);
    }
    io_uring_sqe_set_data64(s, tag(&c, Op::recv));
    c.recv_inflight = true;
    c.recv_multishot = provided_;
  }

  io_uring_sqe* get_sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    if (s == nullptr) {  // the submission queue is full: submit what is queued, then retry
      io_uring_submit(&ring_);
      s = io_uring_get_sqe(&ring_);
    }
    return s;
  }

  void mark_dirty(Connection* conn) {
    if (conn->dirty) return;
    conn->dirty = true;
    dirty_.push_back(conn);
  }

  void post_outbox() noexcept {
    if (shared_.outbox.empty()) return;
    try {
      shared_.app.post(std::move(shared_.outbox));
    } catch (...) {
    }
    reset_batch(shared_.outbox);
  }

  Shared shared_;
  common::Listener listener_;
  const std::string address_;
  const int wake_fd_;
  std::mutex listen_mu_;  // guards listener_.fd between shutdown() and the I/O thread's close
  std::promise<int> ring_result_;
  std::thread thread_;
  std::mutex join_mu_;
  // caller-driven: the owner thread runs everything; join()ers wait for finished_
  const bool caller_driven_;
  std::thread::id owner_{};
  bool ring_ready_ = false;
  std::atomic<bool> finished_{false};
  std::condition_variable finished_cv_;
  __kernel_timespec timer_ts_{};
  std::uint64_t timer_seq_ = 0;
  bool timer_armed_ = false;
  Clock::time_point timer_at_{};

  std::mutex mu_;  // guards the app inbox
  std::vector<std::pair<ExchangeId, std::vector<Outbound>>> ops_in_;
  std::vector<std::pair<ExchangeId, std::size_t>> credit_in_;
  std::atomic<bool> wake_pending_{false};
  // app thread only: wake-ups held back between hold_wakeups() and release_wakeups()
  bool holding_ = false;
  bool deferred_ = false;

  // I/O thread only
  ::io_uring ring_{};
  BufferRing buffers_;     // recv buffers, when provided_
  bool provided_ = false;  // multishot recv from buffers_; else one-shot into each connection's
  std::uint64_t wake_value_ = 0;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> conns_;
  std::vector<Connection*> dirty_;
  std::vector<Connection*> spare_dirty_;  ///< step_dirty()'s other buffer
  common::IdleMemory idle_memory_{shared_.config.release_idle_memory};
  std::vector<std::uint16_t> lent_buffers_;  // provided buffers lent to a parser until step_dirty()
  bool accept_armed_ = false;
  bool accept_cancelling_ = false;
  Clock::time_point accept_retry_at_{};
  Clock::time_point next_scan_{};
};

}  // namespace
}  // namespace io_uring

StartResult make_server(const ServerConfig& config, AppPort& app) {
  common::ListenResult listened = common::open_listener(config);
  if (listened.listener.fd < 0) return StartResult{nullptr, std::move(listened.error)};
  // Threaded: blocking (the ring reads it). Caller-driven: the ring's registered eventfd, which
  // the caller polls and pump() clears without blocking.
  const int wake_fd = eventfd(0, EFD_CLOEXEC | (config.io_thread ? 0 : EFD_NONBLOCK));
  if (wake_fd < 0) {
    const int err = errno;
    close(listened.listener.fd);
    return StartResult{nullptr, StartError{err, "[Errno " + std::to_string(err) +
                                                    "] cannot create an eventfd"}};
  }
  auto server = std::make_unique<io_uring::UringServer>(config, app, std::move(listened.listener),
                                                        wake_fd);
  StartError error = server->start();
  if (!error.message.empty()) {
    server->shutdown(0);
    return StartResult{nullptr, std::move(error)};
  }
  return StartResult{std::move(server), {}};
}

}  // namespace lancet::backend
