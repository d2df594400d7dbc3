// Names and log lines for the lifespan cycle's enums. See cycle.hpp.
#include "protocol/lifespan/cycle.hpp"

namespace lancet::lifespan {

std::optional<Mode> parse_mode(std::string_view text) noexcept {
  if (text == "auto") return Mode::automatic;
  if (text == "on") return Mode::on;
  if (text == "off") return Mode::off;
  return std::nullopt;
}

std::string_view to_string(Mode mode) noexcept {
  switch (mode) {
    case Mode::automatic: return "auto";
    case Mode::on: return "on";
    case Mode::off: return "off";
  }
  return "unknown";
}

std::string_view to_string(State state) noexcept {
  switch (state) {
    case State::off: return "off";
    case State::starting: return "starting";
    case State::serving: return "serving";
    case State::app_exited: return "app_exited";
    case State::shutting_down: return "shutting_down";
    case State::unsupported: return "unsupported";
    case State::startup_failed: return "startup_failed";
    case State::shutdown_failed: return "shutdown_failed";
    case State::done: return "done";
  }
  return "unknown";
}

std::string_view to_string(Action action) noexcept {
  switch (action) {
    case Action::none: return "none";
    case Action::call_app: return "call_app";
    case Action::serve: return "serve";
    case Action::stop: return "stop";
    case Action::exit_failure: return "exit_failure";
  }
  return "unknown";
}

std::string_view to_string(Reason reason) noexcept {
  switch (reason) {
    case Reason::none: return "none";
    case Reason::lifespan_off: return "lifespan_off";
    case Reason::startup_complete: return "startup_complete";
    case Reason::unsupported: return "unsupported";
    case Reason::startup_failed: return "startup_failed";
    case Reason::app_exited_in_startup: return "app_exited_in_startup";
    case Reason::app_exited_while_serving: return "app_exited_while_serving";
    case Reason::shutdown_complete: return "shutdown_complete";
    case Reason::shutdown_failed: return "shutdown_failed";
    case Reason::app_exited_in_shutdown: return "app_exited_in_shutdown";
    case Reason::shutdown_skipped: return "shutdown_skipped";
  }
  return "unknown";
}

std::string_view describe(Reason reason) noexcept {
  switch (reason) {
    case Reason::none: return "";
    case Reason::lifespan_off: return "ASGI 'lifespan' protocol is off.";
    case Reason::startup_complete: return "Application startup complete.";
    case Reason::unsupported: return "ASGI 'lifespan' protocol appears unsupported.";
    case Reason::startup_failed: return "Application startup failed. Exiting.";
    case Reason::app_exited_in_startup:
      return "Application exited before completing startup. Exiting.";
    case Reason::app_exited_while_serving:
      return "Application lifespan ended while serving; shutdown will be skipped.";
    case Reason::shutdown_complete: return "Application shutdown complete.";
    case Reason::shutdown_failed: return "Application shutdown failed. Exiting.";
    case Reason::app_exited_in_shutdown: return "Application exited before completing shutdown.";
    case Reason::shutdown_skipped: return "No application shutdown to wait for.";
  }
  return "";
}

}  // namespace lancet::lifespan
