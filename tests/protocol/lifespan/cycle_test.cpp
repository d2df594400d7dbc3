// Tests for protocol/lifespan/cycle.hpp: every transition, every unexpected-event message,
// auto vs on vs off, and a property over arbitrary input sequences.
#include "protocol/lifespan/cycle.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

namespace lancet::lifespan {
namespace {

const SendEvent kStartupComplete{SendType::startup_complete, {}};
const SendEvent kShutdownComplete{SendType::shutdown_complete, {}};

SendEvent failed(SendType type, std::string message) { return SendEvent{type, message}; }

// The step of a send that must succeed.
Step send_ok(LifespanCycle& cycle, const SendEvent& event) {
  Result<Step> step = cycle.on_app_send(event);
  EXPECT_TRUE(step.has_value()) << type_name(event.type) << " in " << to_string(cycle.state());
  return step ? *step : Step{};
}

// The detail of a send that must fail with unexpected_lifespan_event.
std::string send_unexpected(LifespanCycle& cycle, const SendEvent& event) {
  const State before = cycle.state();
  Result<Step> step = cycle.on_app_send(event);
  EXPECT_FALSE(step.has_value()) << type_name(event.type);
  if (step) return {};
  EXPECT_EQ(step.error().code, Errc::unexpected_lifespan_event);
  EXPECT_EQ(step.error().origin, Origin::local);
  EXPECT_EQ(cycle.state(), before);
  return step.error().detail;
}

// A cycle that completed startup and is serving.
LifespanCycle serving(Mode mode) {
  LifespanCycle cycle(mode);
  EXPECT_EQ(cycle.next_receive(), Receive::startup);
  send_ok(cycle, kStartupComplete);
  return cycle;
}

void expect_step(const Step& step, Action action, Reason reason, std::string_view message = "") {
  EXPECT_EQ(to_string(step.action), to_string(action));
  EXPECT_EQ(to_string(step.reason), to_string(reason));
  EXPECT_EQ(step.message, message);
}

// ---- off ---------------------------------------------------------------------------------

TEST(LifespanCycleOff, ServesWithoutCallingTheApp) {
  LifespanCycle cycle(Mode::off);
  EXPECT_EQ(cycle.state(), State::off);
  expect_step(cycle.initial_step(), Action::serve, Reason::lifespan_off);
}

TEST(LifespanCycleOff, ReceiveYieldsNothing) {
  LifespanCycle cycle(Mode::off);
  EXPECT_EQ(cycle.next_receive(), Receive::pending);
  cycle.begin_shutdown();
  EXPECT_EQ(cycle.next_receive(), Receive::pending);
}

TEST(LifespanCycleOff, ShutdownStopsAtOnce) {
  LifespanCycle cycle(Mode::off);
  expect_step(cycle.begin_shutdown(), Action::stop, Reason::shutdown_skipped);
  EXPECT_EQ(cycle.state(), State::off);
}

TEST(LifespanCycleOff, AnySendIsUnexpected) {
  LifespanCycle cycle(Mode::off);
  EXPECT_EQ(send_unexpected(cycle, kStartupComplete),
            "expected no lifespan event with lifespan off, got 'lifespan.startup.complete'");
}

// ---- startup -----------------------------------------------------------------------------

TEST(LifespanCycleStartup, AutoAndOnCallTheAppFirst) {
  for (Mode mode : {Mode::automatic, Mode::on}) {
    LifespanCycle cycle(mode);
    EXPECT_EQ(cycle.state(), State::starting);
    expect_step(cycle.initial_step(), Action::call_app, Reason::none);
  }
}

TEST(LifespanCycleStartup, ReceiveYieldsStartupOnceThenWaits) {
  LifespanCycle cycle(Mode::on);
  EXPECT_EQ(cycle.next_receive(), Receive::startup);
  EXPECT_EQ(cycle.next_receive(), Receive::pending);
  EXPECT_EQ(cycle.next_receive(), Receive::pending);
}

TEST(LifespanCycleStartup, CompleteServes) {
  LifespanCycle cycle(Mode::automatic);
  cycle.next_receive();
  expect_step(send_ok(cycle, kStartupComplete), Action::serve, Reason::startup_complete);
  EXPECT_EQ(cycle.state(), State::serving);
  EXPECT_EQ(cycle.next_receive(), Receive::pending);
}

TEST(LifespanCycleStartup, FailedExitsWithTheAppsMessage) {
  LifespanCycle cycle(Mode::automatic);
  cycle.next_receive();
  expect_step(send_ok(cycle, failed(SendType::startup_failed, "database unreachable")),
              Action::exit_failure, Reason::startup_failed, "database unreachable");
  EXPECT_EQ(cycle.state(), State::startup_failed);
}

TEST(LifespanCycleStartup, FailedWithoutMessageHasEmptyMessage) {
  LifespanCycle cycle(Mode::on);
  expect_step(send_ok(cycle, failed(SendType::startup_failed, "")), Action::exit_failure,
              Reason::startup_failed);
}

TEST(LifespanCycleStartup, ShutdownAnswerIsUnexpectedAndNamesBoth) {
  LifespanCycle cycle(Mode::on);
  EXPECT_EQ(send_unexpected(cycle, kShutdownComplete),
            "expected 'lifespan.startup.complete' or 'lifespan.startup.failed', "
            "got 'lifespan.shutdown.complete'");
  EXPECT_EQ(send_unexpected(cycle, failed(SendType::shutdown_failed, "x")),
            "expected 'lifespan.startup.complete' or 'lifespan.startup.failed', "
            "got 'lifespan.shutdown.failed'");
}

TEST(LifespanCycleStartup, UnexpectedEventLeavesTheAnswerOpen) {
  LifespanCycle cycle(Mode::on);
  send_unexpected(cycle, kShutdownComplete);
  expect_step(send_ok(cycle, kStartupComplete), Action::serve, Reason::startup_complete);
}

TEST(LifespanCycleStartup, AutoAppRaisingBeforeSendingIsUnsupported) {
  LifespanCycle cycle(Mode::automatic);
  cycle.next_receive();
  expect_step(cycle.on_app_exit(true), Action::serve, Reason::unsupported);
  EXPECT_EQ(cycle.state(), State::unsupported);
}

TEST(LifespanCycleStartup, AutoAppReturningBeforeSendingIsUnsupported) {
  LifespanCycle cycle(Mode::automatic);
  expect_step(cycle.on_app_exit(false), Action::serve, Reason::unsupported);
  EXPECT_EQ(cycle.state(), State::unsupported);
}

TEST(LifespanCycleStartup, OnAppRaisingBeforeSendingFailsStartup) {
  LifespanCycle cycle(Mode::on);
  cycle.next_receive();
  expect_step(cycle.on_app_exit(true), Action::exit_failure, Reason::app_exited_in_startup);
  EXPECT_EQ(cycle.state(), State::startup_failed);
}

TEST(LifespanCycleStartup, OnAppReturningBeforeSendingFailsStartup) {
  LifespanCycle cycle(Mode::on);
  expect_step(cycle.on_app_exit(false), Action::exit_failure, Reason::app_exited_in_startup);
}

TEST(LifespanCycleStartup, AutoAppExitAfterAnUnexpectedEventFailsStartup) {
  // Having sent a lifespan event, the app speaks the protocol: exiting is a failure.
  LifespanCycle cycle(Mode::automatic);
  send_unexpected(cycle, kShutdownComplete);
  expect_step(cycle.on_app_exit(true), Action::exit_failure, Reason::app_exited_in_startup);
}

TEST(LifespanCycleStartup, UnsupportedSendsNoLifespanEventsAndSkipsShutdown) {
  LifespanCycle cycle(Mode::automatic);
  cycle.on_app_exit(true);
  expect_step(cycle.begin_shutdown(), Action::stop, Reason::shutdown_skipped);
  EXPECT_EQ(cycle.next_receive(), Receive::pending);
}

TEST(LifespanCycleStartup, AppExitAfterStartupFailedChangesNothing) {
  LifespanCycle cycle(Mode::on);
  send_ok(cycle, failed(SendType::startup_failed, "no"));
  expect_step(cycle.on_app_exit(false), Action::none, Reason::none);
  expect_step(cycle.begin_shutdown(), Action::none, Reason::none);
  EXPECT_EQ(cycle.state(), State::startup_failed);
}

// ---- serving -----------------------------------------------------------------------------

TEST(LifespanCycleStartup, AnswerWithoutReceivingIsAcceptedAndStartupNotYieldedLater) {
  LifespanCycle cycle(Mode::on);
  expect_step(send_ok(cycle, kStartupComplete), Action::serve, Reason::startup_complete);
  EXPECT_EQ(cycle.next_receive(), Receive::pending);
  cycle.begin_shutdown();
  EXPECT_EQ(cycle.next_receive(), Receive::shutdown);
}

TEST(LifespanCycleServing, AnyEventBeforeShutdownIsUnexpected) {
  LifespanCycle cycle = serving(Mode::on);
  EXPECT_EQ(send_unexpected(cycle, kStartupComplete),
            "expected no lifespan event before 'lifespan.shutdown', "
            "got 'lifespan.startup.complete'");
  EXPECT_EQ(send_unexpected(cycle, kShutdownComplete),
            "expected no lifespan event before 'lifespan.shutdown', "
            "got 'lifespan.shutdown.complete'");
}

TEST(LifespanCycleServing, AppExitIsNotedAndShutdownSkipped) {
  for (bool raised : {false, true}) {
    LifespanCycle cycle = serving(Mode::on);
    expect_step(cycle.on_app_exit(raised), Action::none, Reason::app_exited_while_serving);
    EXPECT_EQ(cycle.state(), State::app_exited);
    expect_step(cycle.begin_shutdown(), Action::stop, Reason::shutdown_skipped);
    EXPECT_EQ(cycle.next_receive(), Receive::pending);
  }
}

// ---- shutdown ----------------------------------------------------------------------------

TEST(LifespanCycleShutdown, BeginShutdownQueuesShutdownForReceive) {
  LifespanCycle cycle = serving(Mode::automatic);
  EXPECT_EQ(cycle.next_receive(), Receive::pending);
  expect_step(cycle.begin_shutdown(), Action::none, Reason::none);
  EXPECT_EQ(cycle.state(), State::shutting_down);
  EXPECT_TRUE(cycle.shutdown_requested());
  EXPECT_EQ(cycle.next_receive(), Receive::shutdown);
  EXPECT_EQ(cycle.next_receive(), Receive::pending);
}

TEST(LifespanCycleShutdown, CompleteStops) {
  LifespanCycle cycle = serving(Mode::on);
  cycle.begin_shutdown();
  expect_step(send_ok(cycle, kShutdownComplete), Action::stop, Reason::shutdown_complete);
  EXPECT_EQ(cycle.state(), State::done);
}

TEST(LifespanCycleShutdown, FailedExitsWithTheAppsMessage) {
  LifespanCycle cycle = serving(Mode::on);
  cycle.begin_shutdown();
  expect_step(send_ok(cycle, failed(SendType::shutdown_failed, "flush failed")),
              Action::exit_failure, Reason::shutdown_failed, "flush failed");
  EXPECT_EQ(cycle.state(), State::shutdown_failed);
}

TEST(LifespanCycleShutdown, StartupAnswerIsUnexpectedAndNamesBoth) {
  LifespanCycle cycle = serving(Mode::on);
  cycle.begin_shutdown();
  EXPECT_EQ(send_unexpected(cycle, kStartupComplete),
            "expected 'lifespan.shutdown.complete' or 'lifespan.shutdown.failed', "
            "got 'lifespan.startup.complete'");
  EXPECT_EQ(send_unexpected(cycle, failed(SendType::startup_failed, "")),
            "expected 'lifespan.shutdown.complete' or 'lifespan.shutdown.failed', "
            "got 'lifespan.startup.failed'");
}

TEST(LifespanCycleShutdown, AppReturningBeforeAnsweringStops) {
  LifespanCycle cycle = serving(Mode::on);
  cycle.begin_shutdown();
  expect_step(cycle.on_app_exit(false), Action::stop, Reason::app_exited_in_shutdown);
  EXPECT_EQ(cycle.state(), State::done);
}

TEST(LifespanCycleShutdown, AppRaisingBeforeAnsweringFails) {
  LifespanCycle cycle = serving(Mode::automatic);
  cycle.begin_shutdown();
  expect_step(cycle.on_app_exit(true), Action::exit_failure, Reason::app_exited_in_shutdown);
  EXPECT_EQ(cycle.state(), State::shutdown_failed);
}

TEST(LifespanCycleShutdown, BeginShutdownIsIdempotent) {
  LifespanCycle cycle = serving(Mode::on);
  cycle.begin_shutdown();
  expect_step(cycle.begin_shutdown(), Action::none, Reason::none);
  EXPECT_EQ(cycle.next_receive(), Receive::shutdown);
  EXPECT_EQ(cycle.next_receive(), Receive::pending);
}

TEST(LifespanCycleShutdown, EventsAfterTheCycleEndedAreUnexpected) {
  LifespanCycle cycle = serving(Mode::on);
  cycle.begin_shutdown();
  send_ok(cycle, kShutdownComplete);
  EXPECT_EQ(send_unexpected(cycle, kShutdownComplete),
            "expected no lifespan event after the lifespan cycle ended, "
            "got 'lifespan.shutdown.complete'");
  expect_step(cycle.on_app_exit(false), Action::none, Reason::none);
  EXPECT_EQ(cycle.state(), State::done);
}

TEST(LifespanCycleShutdown, RequestedDuringStartupFollowsASuccessfulStartup) {
  LifespanCycle cycle(Mode::on);
  EXPECT_EQ(cycle.next_receive(), Receive::startup);
  expect_step(cycle.begin_shutdown(), Action::none, Reason::none);
  EXPECT_EQ(cycle.state(), State::starting);
  EXPECT_EQ(cycle.next_receive(), Receive::pending);  // startup must be answered first
  expect_step(send_ok(cycle, kStartupComplete), Action::none, Reason::startup_complete);
  EXPECT_EQ(cycle.state(), State::shutting_down);
  EXPECT_EQ(cycle.next_receive(), Receive::shutdown);
  expect_step(send_ok(cycle, kShutdownComplete), Action::stop, Reason::shutdown_complete);
}

TEST(LifespanCycleShutdown, RequestedDuringStartupThenUnsupportedStops) {
  LifespanCycle cycle(Mode::automatic);
  cycle.begin_shutdown();
  expect_step(cycle.on_app_exit(true), Action::stop, Reason::unsupported);
}

TEST(LifespanCycleShutdown, RequestedDuringStartupThenStartupFailureExits) {
  LifespanCycle cycle(Mode::automatic);
  cycle.begin_shutdown();
  expect_step(send_ok(cycle, failed(SendType::startup_failed, "boom")), Action::exit_failure,
              Reason::startup_failed, "boom");
}

// ---- names -------------------------------------------------------------------------------

TEST(LifespanNames, ModeSpellingsRoundTrip) {
  for (Mode mode : {Mode::automatic, Mode::on, Mode::off}) {
    EXPECT_EQ(parse_mode(to_string(mode)), mode);
  }
  EXPECT_EQ(to_string(Mode::automatic), "auto");
  EXPECT_EQ(parse_mode("AUTO"), std::nullopt);
  EXPECT_EQ(parse_mode(""), std::nullopt);
}

TEST(LifespanNames, DescribeUsesUvicornWording) {
  EXPECT_EQ(describe(Reason::unsupported), "ASGI 'lifespan' protocol appears unsupported.");
  EXPECT_EQ(describe(Reason::startup_complete), "Application startup complete.");
  EXPECT_EQ(describe(Reason::startup_failed), "Application startup failed. Exiting.");
  EXPECT_EQ(describe(Reason::shutdown_complete), "Application shutdown complete.");
  EXPECT_EQ(describe(Reason::none), "");
}

// ---- property: arbitrary input sequences ------------------------------------------------

// One input to the cycle: 0-3 on_app_send(SendType), 4 return, 5 raise, 6 begin_shutdown,
// 7 next_receive.
struct Tracker {
  int serves = 0;
  int finals = 0;  // stop or exit_failure
  int startups = 0;
  int shutdowns = 0;

  void record(const Step& step) {
    RC_ASSERT(step.action != Action::call_app);
    if (step.action == Action::serve) {
      RC_ASSERT(finals == 0);
      ++serves;
    }
    if (step.action == Action::stop || step.action == Action::exit_failure) ++finals;
    RC_ASSERT(serves <= 1);
    RC_ASSERT(finals <= 1);
  }
};

bool answers(State state, SendType type) {
  const bool startup = type == SendType::startup_complete || type == SendType::startup_failed;
  return (state == State::starting && startup) || (state == State::shutting_down && !startup);
}

void apply_send(LifespanCycle& cycle, Tracker& tracker, SendType type) {
  const State before = cycle.state();
  Result<Step> step = cycle.on_app_send(SendEvent{type, "m"});
  if (step) {
    RC_ASSERT(answers(before, type));
    tracker.record(*step);
    return;
  }
  RC_ASSERT(!answers(before, type));
  RC_ASSERT(step.error().code == Errc::unexpected_lifespan_event);
  RC_ASSERT(cycle.state() == before);
  const std::string detail = step.error().detail;
  RC_ASSERT(detail.find("got '" + std::string(type_name(type)) + "'") != std::string::npos);
}

void apply_receive(LifespanCycle& cycle, Tracker& tracker) {
  const Receive event = cycle.next_receive();
  if (event == Receive::startup) {
    RC_ASSERT(cycle.mode() != Mode::off);
    RC_ASSERT(tracker.startups++ == 0);
  }
  if (event == Receive::shutdown) {
    RC_ASSERT(cycle.shutdown_requested());
    RC_ASSERT(tracker.shutdowns++ == 0);
  }
}

RC_GTEST_PROP(LifespanCycleProperty, AnySequenceFollowsTheProtocolOrIsUnexpected, ()) {
  const Mode mode = *rc::gen::element(Mode::automatic, Mode::on, Mode::off);
  const auto inputs = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 8));
  LifespanCycle cycle(mode);
  Tracker tracker;
  const Step first = cycle.initial_step();
  RC_ASSERT(first.action == (mode == Mode::off ? Action::serve : Action::call_app));
  if (mode == Mode::off) tracker.serves = 1;
  for (int input : inputs) {
    if (input < 4) apply_send(cycle, tracker, static_cast<SendType>(input));
    if (input == 4 || input == 5) tracker.record(cycle.on_app_exit(input == 5));
    if (input == 6) tracker.record(cycle.begin_shutdown());
    if (input == 7) apply_receive(cycle, tracker);
  }
  if (mode == Mode::off) RC_ASSERT(cycle.state() == State::off);
}

}  // namespace
}  // namespace lancet::lifespan
