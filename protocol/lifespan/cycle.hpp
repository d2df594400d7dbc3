// LifespanCycle: the ASGI lifespan 2.0 startup/shutdown cycle as a sans-io state machine.
//
// Layer: protocol/lifespan. No Python, no clocks, no logging: the bridge feeds in what the app
// did (send events, its coroutine ending) and what the server wants (shutdown); the cycle
// answers with a Step saying what the server should do and why. lifespan.md has the state
// diagram and the comparison with uvicorn. Not thread-safe: one cycle per worker, one thread.
//
// Theory of operation
//   1. Construct with the --lifespan mode. initial_step() says what to do first: call the app
//      with a 'lifespan' scope (auto, on), or serve right away (off: the protocol never runs).
//   2. The app's receive() takes next_receive(): lifespan.startup while startup runs; later,
//      once shutdown began, lifespan.shutdown; Receive::pending means "park the awaitable"
//      (the bridge calls next_receive() again after begin_shutdown() to wake it).
//   3. The app's send() goes through on_app_send(): the answer for the current phase moves the
//      cycle on (serve, stop, or exit with the app's failure message); anything else is
//      unexpected_lifespan_event, raised into the app, and the cycle stays where it was.
//   4. The app's coroutine ending goes through on_app_exit(raised). In startup, before the app
//      sent anything: auto -> unsupported (serve without lifespan, log at info); on -> startup
//      failure. After startup completed: noted, and shutdown is skipped later (no one is
//      listening for lifespan.shutdown). In shutdown: a return counts as done, a raise as a
//      shutdown failure.
//   5. begin_shutdown() when the server wants to stop (signal, max requests). Called during
//      startup, it is remembered: a successful startup then goes straight into shutdown.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/core/result.hpp"
#include "protocol/lifespan/events.hpp"

namespace lancet::lifespan {

/// The --lifespan option (uvicorn's meaning).
enum class Mode : std::uint8_t {
  automatic,  ///< "auto": run the protocol; an app that does not speak it is served anyway
  on,         ///< "on": run the protocol; an app that does not speak it fails startup
  off,        ///< "off": never call the app with a 'lifespan' scope
};

/// Where the cycle is. Terminal states: off, unsupported, startup_failed, shutdown_failed, done.
enum class State : std::uint8_t {
  off,              ///< mode off: the protocol never runs
  starting,         ///< waiting for lifespan.startup.complete / .failed
  serving,          ///< startup completed; waiting for begin_shutdown()
  app_exited,       ///< the app returned or raised while serving; shutdown will be skipped
  shutting_down,    ///< waiting for lifespan.shutdown.complete / .failed
  unsupported,      ///< auto mode and the app exited before sending anything
  startup_failed,   ///< the app failed startup, or exited during it (mode on, or after sending)
  shutdown_failed,  ///< the app sent lifespan.shutdown.failed, or raised during shutdown
  done,             ///< shutdown completed (or the app returned during it)
};

/// What the server should do now.
enum class Action : std::uint8_t {
  none,          ///< no new decision: keep doing what you were doing (waiting, serving, exiting)
  call_app,      ///< call the app with a 'lifespan' scope and wait for its answer
  serve,         ///< startup is over: accept connections
  stop,          ///< the lifespan is over: finish stopping, exit status 0
  exit_failure,  ///< startup or shutdown failed: log the reason (and message), exit non-zero
};

/// Why; the bridge logs describe(reason) and, for *_failed, the app's message.
enum class Reason : std::uint8_t {
  none,                      ///< nothing happened worth saying
  lifespan_off,              ///< mode off: served without calling the app for lifespan
  startup_complete,          ///< the app sent lifespan.startup.complete
  unsupported,               ///< auto: the app exited before sending anything (log at info)
  startup_failed,            ///< the app sent lifespan.startup.failed (see Step::message)
  app_exited_in_startup,     ///< the app returned or raised before answering lifespan.startup
  app_exited_while_serving,  ///< the app returned or raised after startup completed
  shutdown_complete,         ///< the app sent lifespan.shutdown.complete
  shutdown_failed,           ///< the app sent lifespan.shutdown.failed (see Step::message)
  app_exited_in_shutdown,    ///< the app returned (stop) or raised (exit_failure) in shutdown
  shutdown_skipped,          ///< nothing to shut down: lifespan off, unsupported or app exited
};

/// One decision of the cycle.
struct Step {
  Action action = Action::none;
  Reason reason = Reason::none;
  std::string message;  ///< the app's message for startup_failed / shutdown_failed, else ""
};

class LifespanCycle {
 public:
  /// A cycle in State::starting (auto, on) or State::off. Cannot fail.
  explicit LifespanCycle(Mode mode) noexcept;

  /// What to do first: {call_app} for auto/on, {serve, lifespan_off} for off. Errors: none.
  Step initial_step() const;

  /// What the app's receive() yields now (consumed: each event is yielded once). Errors: none.
  Receive next_receive() noexcept;

  /// The app sent `event`. Returns the step it causes. Errors (local):
  /// unexpected_lifespan_event when `event` does not answer the current phase; the detail names
  /// what was expected and what came, e.g. "expected 'lifespan.startup.complete' or
  /// 'lifespan.startup.failed', got 'lifespan.shutdown.complete'". The state does not change.
  Result<Step> on_app_send(const SendEvent& event);

  /// The app's lifespan coroutine returned (raised = false) or raised. See the theory of
  /// operation, step 4. Errors: none.
  Step on_app_exit(bool raised);

  /// The server wants to stop. Returns {none} while waiting for the app's shutdown answer (or,
  /// during startup, for its startup answer first) and {stop, shutdown_skipped} when there is
  /// nothing to wait for. Idempotent. Errors: none.
  Step begin_shutdown();

  Mode mode() const noexcept { return mode_; }
  State state() const noexcept { return state_; }
  /// begin_shutdown() has been called.
  bool shutdown_requested() const noexcept { return shutdown_requested_; }

 private:
  Step on_startup_answer(const SendEvent& event);
  Step on_shutdown_answer(const SendEvent& event);
  Step enter_shutdown();

  Mode mode_;
  State state_;
  bool app_sent_ = false;            // the app sent at least one event (valid or not)
  bool shutdown_requested_ = false;  // begin_shutdown() was called
  bool startup_delivered_ = false;   // receive() has yielded lifespan.startup
  bool shutdown_queued_ = false;     // lifespan.shutdown is due to receive()
  bool shutdown_delivered_ = false;  // receive() has yielded lifespan.shutdown
};

/// Parses the CLI spelling: "auto", "on", "off". nullopt for anything else.
std::optional<Mode> parse_mode(std::string_view text) noexcept;

/// The CLI spelling of a mode: "auto", "on", "off".
std::string_view to_string(Mode mode) noexcept;

/// Stable names for traces: "starting", "serving", ...
std::string_view to_string(State state) noexcept;

/// Stable names for traces: "none", "call_app", "serve", "stop", "exit_failure".
std::string_view to_string(Action action) noexcept;

/// Stable names for traces: "startup_complete", "unsupported", ...
std::string_view to_string(Reason reason) noexcept;

/// A log line for a reason, in uvicorn's words where it has them, e.g.
/// "ASGI 'lifespan' protocol appears unsupported."; "" for Reason::none.
std::string_view describe(Reason reason) noexcept;

}  // namespace lancet::lifespan
