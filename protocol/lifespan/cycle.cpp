// See cycle.hpp for the theory of operation and lifespan.md for the state diagram.
#include "protocol/lifespan/cycle.hpp"

#include <array>
#include <cstddef>

namespace lancet::lifespan {
namespace {

// unexpected_lifespan_event details: Error::detail is static storage, so every (phase, event)
// pair has its own literal. Rows: the phase groups below; columns: SendType order.
enum class Phase : std::uint8_t { startup, serving, shutdown, ended, off };

constexpr std::array<std::array<const char*, 4>, 5> kUnexpected = {{
    {"expected 'lifespan.startup.complete' or 'lifespan.startup.failed', "
     "got 'lifespan.startup.complete'",
     "expected 'lifespan.startup.complete' or 'lifespan.startup.failed', "
     "got 'lifespan.startup.failed'",
     "expected 'lifespan.startup.complete' or 'lifespan.startup.failed', "
     "got 'lifespan.shutdown.complete'",
     "expected 'lifespan.startup.complete' or 'lifespan.startup.failed', "
     "got 'lifespan.shutdown.failed'"},
    {"expected no lifespan event before 'lifespan.shutdown', got 'lifespan.startup.complete'",
     "expected no lifespan event before 'lifespan.shutdown', got 'lifespan.startup.failed'",
     "expected no lifespan event before 'lifespan.shutdown', got 'lifespan.shutdown.complete'",
     "expected no lifespan event before 'lifespan.shutdown', got 'lifespan.shutdown.failed'"},
    {"expected 'lifespan.shutdown.complete' or 'lifespan.shutdown.failed', "
     "got 'lifespan.startup.complete'",
     "expected 'lifespan.shutdown.complete' or 'lifespan.shutdown.failed', "
     "got 'lifespan.startup.failed'",
     "expected 'lifespan.shutdown.complete' or 'lifespan.shutdown.failed', "
     "got 'lifespan.shutdown.complete'",
     "expected 'lifespan.shutdown.complete' or 'lifespan.shutdown.failed', "
     "got 'lifespan.shutdown.failed'"},
    {"expected no lifespan event after the lifespan cycle ended, got 'lifespan.startup.complete'",
     "expected no lifespan event after the lifespan cycle ended, got 'lifespan.startup.failed'",
     "expected no lifespan event after the lifespan cycle ended, got 'lifespan.shutdown.complete'",
     "expected no lifespan event after the lifespan cycle ended, got 'lifespan.shutdown.failed'"},
    {"expected no lifespan event with lifespan off, got 'lifespan.startup.complete'",
     "expected no lifespan event with lifespan off, got 'lifespan.startup.failed'",
     "expected no lifespan event with lifespan off, got 'lifespan.shutdown.complete'",
     "expected no lifespan event with lifespan off, got 'lifespan.shutdown.failed'"},
}};

Phase phase_of(State state) noexcept {
  switch (state) {
    case State::starting: return Phase::startup;
    case State::serving:
    case State::app_exited: return Phase::serving;
    case State::shutting_down: return Phase::shutdown;
    case State::off: return Phase::off;
    case State::unsupported:
    case State::startup_failed:
    case State::shutdown_failed:
    case State::done: return Phase::ended;
  }
  return Phase::ended;
}

Error unexpected_event(State state, SendType got) noexcept {
  const char* detail =
      kUnexpected[static_cast<std::size_t>(phase_of(state))][static_cast<std::size_t>(got)];
  return make_local_error(Errc::unexpected_lifespan_event, detail);
}

bool answers_startup(SendType type) noexcept {
  return type == SendType::startup_complete || type == SendType::startup_failed;
}

bool answers_shutdown(SendType type) noexcept {
  return type == SendType::shutdown_complete || type == SendType::shutdown_failed;
}

}  // namespace

LifespanCycle::LifespanCycle(Mode mode) noexcept
    : mode_(mode), state_(mode == Mode::off ? State::off : State::starting) {}

Step LifespanCycle::initial_step() const {
  if (state_ == State::off) return Step{Action::serve, Reason::lifespan_off, {}};
  return Step{Action::call_app, Reason::none, {}};
}

Receive LifespanCycle::next_receive() noexcept {
  if (mode_ == Mode::off) return Receive::pending;
  // lifespan.startup is due while startup runs; an app that answered without asking never
  // gets it afterwards (it would be a stale question).
  if (!startup_delivered_ && state_ == State::starting) {
    startup_delivered_ = true;
    return Receive::startup;
  }
  if (shutdown_queued_ && !shutdown_delivered_) {
    shutdown_delivered_ = true;
    return Receive::shutdown;
  }
  return Receive::pending;
}

Result<Step> LifespanCycle::on_app_send(const SendEvent& event) {
  app_sent_ = true;
  if (state_ == State::starting && answers_startup(event.type)) return on_startup_answer(event);
  if (state_ == State::shutting_down && answers_shutdown(event.type)) {
    return on_shutdown_answer(event);
  }
  return unexpected(unexpected_event(state_, event.type));
}

Step LifespanCycle::on_startup_answer(const SendEvent& event) {
  if (event.type == SendType::startup_failed) {
    state_ = State::startup_failed;
    return Step{Action::exit_failure, Reason::startup_failed, event.message};
  }
  if (shutdown_requested_) {
    // The server was asked to stop during startup: go straight on to shutdown.
    enter_shutdown();
    return Step{Action::none, Reason::startup_complete, {}};
  }
  state_ = State::serving;
  return Step{Action::serve, Reason::startup_complete, {}};
}

Step LifespanCycle::on_shutdown_answer(const SendEvent& event) {
  if (event.type == SendType::shutdown_failed) {
    state_ = State::shutdown_failed;
    return Step{Action::exit_failure, Reason::shutdown_failed, event.message};
  }
  state_ = State::done;
  return Step{Action::stop, Reason::shutdown_complete, {}};
}

Step LifespanCycle::on_app_exit(bool raised) {
  switch (state_) {
    case State::starting:
      if (!app_sent_ && mode_ == Mode::automatic) {
        // ASGI lifespan spec: the server "must continue but not send any lifespan events".
        state_ = State::unsupported;
        return Step{shutdown_requested_ ? Action::stop : Action::serve, Reason::unsupported, {}};
      }
      state_ = State::startup_failed;
      return Step{Action::exit_failure, Reason::app_exited_in_startup, {}};
    case State::serving:
      state_ = State::app_exited;
      return Step{Action::none, Reason::app_exited_while_serving, {}};
    case State::shutting_down:
      state_ = raised ? State::shutdown_failed : State::done;
      return Step{raised ? Action::exit_failure : Action::stop, Reason::app_exited_in_shutdown, {}};
    default: return Step{};
  }
}

Step LifespanCycle::begin_shutdown() {
  if (shutdown_requested_) return Step{};
  shutdown_requested_ = true;
  switch (state_) {
    case State::off:
    case State::unsupported:
    case State::app_exited: return Step{Action::stop, Reason::shutdown_skipped, {}};
    case State::serving: return enter_shutdown();
    default: return Step{};  // starting: deferred to the startup answer; ended: exiting anyway
  }
}

Step LifespanCycle::enter_shutdown() {
  state_ = State::shutting_down;
  shutdown_queued_ = true;
  return Step{};
}

}  // namespace lancet::lifespan
