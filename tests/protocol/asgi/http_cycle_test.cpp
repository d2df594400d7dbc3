// Tests for protocol/asgi/http_cycle.hpp: order rules, the held-back start and Content-Length,
// trailers, pathsend, on_app_exit, and the receive side.
#include "protocol/asgi/http_cycle.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

namespace lancet::asgi {
namespace {

using http1::Header;

std::string describe_headers(std::span<const Header> headers) {
  std::string out;
  for (const Header& h : headers) {
    out += out.empty() ? " " : ", ";
    out += std::string(h.name) + ": " + std::string(h.value);
  }
  return out;
}

/// One line per action: "head 200 a: b, c: d", "data hello", "end", "file /p", "abort".
std::string describe(const Actions& actions) {
  std::string out;
  for (const Action& action : actions) {
    if (!out.empty()) out += " | ";
    if (const auto* head = std::get_if<SendHead>(&action)) {
      out += "head " + std::to_string(head->status) + describe_headers(head->headers);
    } else if (const auto* data = std::get_if<SendData>(&action)) {
      out += "data " + std::string(data->bytes);
    } else if (const auto* end = std::get_if<SendEnd>(&action)) {
      out += "end" + describe_headers(end->trailers);
    } else if (const auto* file = std::get_if<SendFile>(&action)) {
      out += "file " + std::string(file->path);
    } else {
      out += "abort";
    }
  }
  return out;
}

/// Sends an event that must be accepted and describes the actions.
std::string send_ok(HttpCycle& cycle, const SendEvent& event) {
  Result<Actions> r = cycle.on_app_send(event);
  EXPECT_TRUE(r.has_value()) << event_type(event) << ": " << (r ? "" : r.error().detail);
  return r ? describe(*r) : "<error>";
}

const std::vector<Header> kPlain = {{"content-type", "text/plain"}};

HttpResponseStart start(std::span<const Header> headers = kPlain, bool trailers = false,
                        std::int64_t status = 200) {
  return HttpResponseStart{status, headers, trailers};
}

// ---- held-back start and Content-Length --------------------------------------------------------

TEST(AsgiHttpCycle, StartIsHeldBackUntilTheFirstBody) {
  HttpCycle cycle;
  EXPECT_EQ(send_ok(cycle, start()), "");
  EXPECT_TRUE(cycle.is_start_held());
  EXPECT_EQ(cycle.state(), ResponseState::awaiting_body);
}

TEST(AsgiHttpCycle, SingleFinalBodyGetsContentLengthInsteadOfChunking) {
  HttpCycle cycle;
  send_ok(cycle, start());
  EXPECT_EQ(send_ok(cycle, HttpResponseBody{"hello", false}),
            "head 200 content-type: text/plain, content-length: 5 | data hello | end");
  EXPECT_TRUE(cycle.is_done());
}

TEST(AsgiHttpCycle, EmptyFinalBodyGetsContentLengthZeroAndNoData) {
  HttpCycle cycle;
  send_ok(cycle, start({}));
  EXPECT_EQ(send_ok(cycle, HttpResponseBody{"", false}), "head 200 content-length: 0 | end");
}

TEST(AsgiHttpCycle, StreamedBodyGetsNoContentLength) {
  HttpCycle cycle;
  send_ok(cycle, start());
  EXPECT_EQ(send_ok(cycle, HttpResponseBody{"a", true}),
            "head 200 content-type: text/plain | data a");
  EXPECT_EQ(send_ok(cycle, HttpResponseBody{"", true}), "");
  EXPECT_EQ(send_ok(cycle, HttpResponseBody{"b", false}), "data b | end");
}

TEST(AsgiHttpCycle, AppContentLengthOrTransferEncodingIsKeptAndNothingAdded) {
  for (std::string_view name : {"Content-Length", "transfer-encoding"}) {
    std::vector<Header> headers = {{name, "5"}};
    HttpCycle cycle;
    send_ok(cycle, start(headers));
    EXPECT_EQ(send_ok(cycle, HttpResponseBody{"hello", false}),
              "head 200 " + std::string(name) + ": 5 | data hello | end");
  }
}

TEST(AsgiHttpCycle, HeadRequestGetsNoAddedContentLength) {
  HttpCycle cycle(CycleOptions{.head_request = true});
  send_ok(cycle, start({}));
  EXPECT_EQ(send_ok(cycle, HttpResponseBody{"", false}), "head 200 | end");
}

TEST(AsgiHttpCycle, NoContentAndNotModifiedGetNoAddedContentLength) {
  for (std::int64_t status : {204, 304}) {
    HttpCycle cycle;
    send_ok(cycle, start({}, false, status));
    EXPECT_EQ(send_ok(cycle, HttpResponseBody{"", false}),
              "head " + std::to_string(status) + " | end");
  }
}

TEST(AsgiHttpCycle, OptionsForHeadRequestSetHeadRequest) {
  http1::RequestHead head;
  head.method = "HEAD";
  EXPECT_TRUE(HttpCycle::options_for(head).head_request);
  head.method = "GET";
  EXPECT_FALSE(HttpCycle::options_for(head).head_request);
}

TEST(AsgiHttpCycle, HeldStartOwnsItsHeaders) {
  HttpCycle cycle;
  {
    std::string name = "x-owned";
    std::string value = "yes";
    std::vector<Header> headers = {{name, value}};
    send_ok(cycle, start(headers));
    name.assign("XXXXXXX");
    value.assign("nop");
  }
  EXPECT_EQ(send_ok(cycle, HttpResponseBody{"", false}),
            "head 200 x-owned: yes, content-length: 0 | end");
}

// More fields and bytes than HeaderStore keeps inline (8 and 256): the store moves to the heap
// and its views follow, content-length (appended after the move) included.
TEST(AsgiHttpCycle, HeldStartOwnsMoreHeadersThanFitInline) {
  HttpCycle cycle;
  std::string expected = "head 200 ";
  {
    std::vector<std::string> names, values;
    for (int i = 0; i < 20; ++i) {
      names.push_back("x-field-" + std::to_string(i));
      values.push_back(std::string(40, static_cast<char>('a' + i)));
      expected += names.back() + ": " + values.back() + ", ";
    }
    std::vector<Header> headers;
    for (int i = 0; i < 20; ++i) headers.push_back({names[i], values[i]});
    send_ok(cycle, start(headers));
    for (auto& n : names) n.assign(n.size(), 'X');
    for (auto& v : values) v.assign(v.size(), 'Y');
  }
  expected += "content-length: 2 | data hi | end";
  EXPECT_EQ(send_ok(cycle, HttpResponseBody{"hi", false}), expected);
}

TEST(AsgiHttpCycle, WithoutHoldBackTheStartGoesOutAtOnce) {
  HttpCycle cycle(CycleOptions{.hold_back_start = false});
  EXPECT_EQ(send_ok(cycle, start()), "head 200 content-type: text/plain");
  EXPECT_EQ(send_ok(cycle, HttpResponseBody{"x", false}), "data x | end");
}

// ---- order rules -----------------------------------------------------------------------------

void expect_error(HttpCycle& cycle, const SendEvent& event, Errc code, std::string_view detail) {
  Result<Actions> r = cycle.on_app_send(event);
  ASSERT_FALSE(r.has_value()) << event_type(event);
  EXPECT_EQ(r.error().code, code);
  EXPECT_EQ(r.error().origin, Origin::local);
  EXPECT_EQ(std::string_view(r.error().detail), detail);
}

TEST(AsgiHttpCycle, BodyBeforeStartIsLocalError) {
  HttpCycle cycle;
  expect_error(cycle, HttpResponseBody{"x", false}, Errc::unexpected_event,
               "expected 'http.response.start', got 'http.response.body'");
  expect_error(cycle, HttpResponseTrailers{}, Errc::unexpected_event,
               "expected 'http.response.start', got 'http.response.trailers'");
  expect_error(cycle, HttpResponsePathsend{"/f"}, Errc::unexpected_event,
               "expected 'http.response.start', got 'http.response.pathsend'");
  EXPECT_EQ(cycle.state(), ResponseState::awaiting_start);
}

TEST(AsgiHttpCycle, SecondStartIsUnexpectedEvent) {
  HttpCycle cycle;
  send_ok(cycle, start());
  expect_error(cycle, start(), Errc::unexpected_event,
               "expected 'http.response.body', got 'http.response.start'");
}

TEST(AsgiHttpCycle, AnythingAfterTheFinalBodyIsEventAfterResponse) {
  HttpCycle cycle;
  send_ok(cycle, start());
  send_ok(cycle, HttpResponseBody{"done", false});
  expect_error(cycle, HttpResponseBody{"more", false}, Errc::event_after_response,
               "unexpected 'http.response.body' after the response completed");
  expect_error(cycle, start(), Errc::event_after_response,
               "unexpected 'http.response.start' after the response completed");
  expect_error(cycle, HttpResponseTrailers{}, Errc::event_after_response,
               "unexpected 'http.response.trailers' after the response completed");
  expect_error(cycle, HttpResponsePathsend{"/f"}, Errc::event_after_response,
               "unexpected 'http.response.pathsend' after the response completed");
}

TEST(AsgiHttpCycle, InvalidEventIsRejectedWithoutChangingState) {
  HttpCycle cycle;
  Result<Actions> bad = cycle.on_app_send(start({}, false, 99));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::invalid_status);
  EXPECT_EQ(cycle.state(), ResponseState::awaiting_start);
  std::vector<Header> crlf = {{"x", "a\r\nb"}};
  ASSERT_FALSE(cycle.on_app_send(start(crlf)));
  EXPECT_EQ(send_ok(cycle, start({})), "");
}

// ---- trailers --------------------------------------------------------------------------------

TEST(AsgiHttpCycle, TrailersWithoutAnnouncementAreRejected) {
  HttpCycle cycle;
  send_ok(cycle, start());
  send_ok(cycle, HttpResponseBody{"x", true});
  expect_error(cycle, HttpResponseTrailers{}, Errc::trailers_not_announced,
               "unexpected 'http.response.trailers': 'http.response.start' did not set "
               "trailers=true");
}

TEST(AsgiHttpCycle, TrailersBeforeTheFinalBodyAreUnexpected) {
  HttpCycle cycle;
  send_ok(cycle, start(kPlain, true));
  expect_error(cycle, HttpResponseTrailers{}, Errc::unexpected_event,
               "expected 'http.response.body', got 'http.response.trailers'");
}

TEST(AsgiHttpCycle, AnnouncedTrailersEndTheResponse) {
  HttpCycle cycle;
  send_ok(cycle, start(kPlain, true));
  EXPECT_EQ(send_ok(cycle, HttpResponseBody{"x", false}),
            "head 200 content-type: text/plain | data x");  // no content-length: chunked
  EXPECT_EQ(cycle.state(), ResponseState::awaiting_trailers);
  expect_error(cycle, HttpResponseBody{"y", false}, Errc::unexpected_event,
               "expected 'http.response.trailers', got 'http.response.body'");
  std::vector<Header> trailers = {{"x-checksum", "abc"}};
  EXPECT_EQ(send_ok(cycle, HttpResponseTrailers{trailers, false}), "end x-checksum: abc");
  EXPECT_TRUE(cycle.is_done());
}

TEST(AsgiHttpCycle, MoreTrailersAreMergedIntoOneEnd) {
  HttpCycle cycle;
  send_ok(cycle, start({}, true));
  send_ok(cycle, HttpResponseBody{"", false});
  {
    std::string value = "1";
    std::vector<Header> first = {{"x-a", value}};
    EXPECT_EQ(send_ok(cycle, HttpResponseTrailers{first, true}), "");
    value.assign("9");
  }
  std::vector<Header> second = {{"x-b", "2"}};
  EXPECT_EQ(send_ok(cycle, HttpResponseTrailers{second, false}), "end x-a: 1, x-b: 2");
}

// ---- pathsend --------------------------------------------------------------------------------

TEST(AsgiHttpCycle, PathsendSendsTheFileAndEndsTheResponse) {
  HttpCycle cycle;
  send_ok(cycle, start());
  EXPECT_EQ(send_ok(cycle, HttpResponsePathsend{"/srv/a.txt"}),
            "head 200 content-type: text/plain | file /srv/a.txt | end");
  EXPECT_TRUE(cycle.is_done());
}

TEST(AsgiHttpCycle, PathsendAfterBodyBytesIsUnexpected) {
  HttpCycle cycle;
  send_ok(cycle, start());
  send_ok(cycle, HttpResponseBody{"x", true});
  expect_error(cycle, HttpResponsePathsend{"/f"}, Errc::unexpected_event,
               "expected 'http.response.body', got 'http.response.pathsend'");
}

TEST(AsgiHttpCycle, PathsendWithAnnouncedTrailersWaitsForTrailers) {
  HttpCycle cycle;
  send_ok(cycle, start({}, true));
  EXPECT_EQ(send_ok(cycle, HttpResponsePathsend{"/f"}), "head 200 | file /f");
  EXPECT_EQ(send_ok(cycle, HttpResponseTrailers{}), "end");
}

TEST(AsgiHttpCycle, RelativePathsendIsInvalidEventField) {
  HttpCycle cycle;
  send_ok(cycle, start());
  Result<Actions> r = cycle.on_app_send(HttpResponsePathsend{"rel/f"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_event_field);
  EXPECT_TRUE(cycle.is_start_held());
}

// ---- on_app_exit -----------------------------------------------------------------------------

constexpr std::string_view k500 =
    "head 500 content-type: text/plain; charset=utf-8, content-length: 21, connection: close | "
    "data Internal Server Error | end";

TEST(AsgiHttpCycle, ExitBeforeStartAnswers500) {
  HttpCycle cycle;
  EXPECT_EQ(describe(cycle.on_app_exit(Outcome::raised)), k500);
  HttpCycle returned;
  EXPECT_EQ(describe(returned.on_app_exit(Outcome::returned)), k500);
  EXPECT_TRUE(returned.is_done());
}

TEST(AsgiHttpCycle, ExitWithOnlyAHeldStartAnswers500BecauseNothingReachedTheWire) {
  HttpCycle cycle;
  send_ok(cycle, start());
  EXPECT_EQ(describe(cycle.on_app_exit(Outcome::raised)), k500);
}

TEST(AsgiHttpCycle, ExitAfterPartOfTheResponseAborts) {
  HttpCycle cycle;
  send_ok(cycle, start());
  send_ok(cycle, HttpResponseBody{"partial", true});
  EXPECT_EQ(describe(cycle.on_app_exit(Outcome::raised)), "abort");
  HttpCycle unheld(CycleOptions{.hold_back_start = false});
  send_ok(unheld, start());
  EXPECT_EQ(describe(unheld.on_app_exit(Outcome::returned)), "abort");
}

TEST(AsgiHttpCycle, ExitAwaitingTrailersAborts) {
  HttpCycle cycle;
  send_ok(cycle, start({}, true));
  send_ok(cycle, HttpResponseBody{"x", false});
  EXPECT_EQ(describe(cycle.on_app_exit(Outcome::returned)), "abort");
}

TEST(AsgiHttpCycle, ExitAfterCompleteResponseDoesNothing) {
  HttpCycle cycle;
  send_ok(cycle, start());
  send_ok(cycle, HttpResponseBody{"ok", false});
  EXPECT_TRUE(cycle.on_app_exit(Outcome::returned).empty());
  EXPECT_TRUE(cycle.on_app_exit(Outcome::raised).empty());
}

TEST(AsgiHttpCycle, ExitAfterDisconnectAbortsInsteadOfAnswering) {
  HttpCycle cycle;
  cycle.on_disconnect();
  EXPECT_EQ(describe(cycle.on_app_exit(Outcome::raised)), "abort");
}

TEST(AsgiHttpCycle, SendAfterExitIsEventAfterResponse) {
  HttpCycle cycle;
  cycle.on_app_exit(Outcome::raised);
  expect_error(cycle, start(), Errc::event_after_response,
               "unexpected 'http.response.start' after the response completed");
}

// ---- receive side ----------------------------------------------------------------------------

HttpRequest receive_request(HttpCycle& cycle) {
  std::optional<ReceiveEvent> event = cycle.next_receive();
  EXPECT_TRUE(event.has_value());
  if (!event || !std::holds_alternative<HttpRequest>(*event)) {
    ADD_FAILURE() << "expected http.request";
    return {};
  }
  return std::get<HttpRequest>(*event);
}

TEST(AsgiHttpCycle, BodyPiecesBecomeRequestEventsInOrder) {
  HttpCycle cycle;
  EXPECT_FALSE(cycle.next_receive().has_value());
  cycle.on_body("ab", true);
  EXPECT_EQ(receive_request(cycle), (HttpRequest{"ab", true}));
  EXPECT_FALSE(cycle.next_receive().has_value());
  cycle.on_body("c", false);
  EXPECT_EQ(receive_request(cycle), (HttpRequest{"c", false}));
}

TEST(AsgiHttpCycle, PiecesQueuedBeforeReceiveAreMergedInOrder) {
  HttpCycle cycle;
  cycle.on_body("a", true);
  cycle.on_body("", true);
  cycle.on_body("bc", true);
  EXPECT_EQ(cycle.pending_receive_bytes(), 3u);
  cycle.on_body("d", false);
  EXPECT_EQ(receive_request(cycle), (HttpRequest{"abcd", false}));
  EXPECT_EQ(cycle.pending_receive_bytes(), 0u);
}

TEST(AsgiHttpCycle, EmptyRequestBodyIsOneEmptyFinalEvent) {
  HttpCycle cycle;
  cycle.on_body("", false);
  EXPECT_EQ(receive_request(cycle), (HttpRequest{"", false}));
}

TEST(AsgiHttpCycle, AfterTheBodyCompletesReceiveHasNothingUntilDisconnect) {
  HttpCycle cycle;
  cycle.on_body("x", false);
  receive_request(cycle);
  cycle.on_body("ignored", false);
  EXPECT_FALSE(cycle.next_receive().has_value());
  EXPECT_FALSE(cycle.next_receive().has_value());
  cycle.on_disconnect();
  EXPECT_EQ(cycle.next_receive(), ReceiveEvent{HttpDisconnect{}});
}

TEST(AsgiHttpCycle, AfterDisconnectReceiveReturnsDisconnectForever) {
  HttpCycle cycle;
  cycle.on_body("queued", true);
  cycle.on_disconnect();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(cycle.next_receive(), ReceiveEvent{HttpDisconnect{}});
  cycle.on_body("late", false);
  EXPECT_EQ(cycle.next_receive(), ReceiveEvent{HttpDisconnect{}});
  EXPECT_TRUE(cycle.is_disconnected());
}

TEST(AsgiHttpCycle, AfterTheResponseCompletesReceiveReturnsDisconnect) {
  HttpCycle cycle;
  send_ok(cycle, start());
  EXPECT_FALSE(cycle.next_receive().has_value());
  send_ok(cycle, HttpResponseBody{"", false});
  EXPECT_EQ(cycle.next_receive(), ReceiveEvent{HttpDisconnect{}});
  EXPECT_FALSE(cycle.is_disconnected());
}

TEST(AsgiHttpCycle, SendAfterDisconnectIsTheDistinctDisconnectError) {
  HttpCycle cycle;
  send_ok(cycle, start());
  cycle.on_disconnect();
  Result<Actions> r = cycle.on_app_send(HttpResponseBody{"x", false});
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_disconnect_error(r.error()));
  EXPECT_EQ(r.error().origin, Origin::remote);
  EXPECT_FALSE(is_disconnect_error(make_local_error(Errc::unexpected_event, "")));
  EXPECT_FALSE(is_disconnect_error(make_remote_error(Errc::incomplete_request, "")));
}

// ---- properties ------------------------------------------------------------------------------

/// A random send event over owned storage: any kind, valid or not, any flags.
struct EventSpec {
  std::size_t kind = 0;
  std::int64_t status = 200;
  bool flag = false;
  std::string body;
  std::vector<std::string> names;
  std::vector<Header> headers;

  SendEvent event() const {
    switch (kind) {
      case 0: return HttpResponseStart{status, headers, flag};
      case 1: return HttpResponseBody{body, flag};
      case 2: return HttpResponseTrailers{headers, flag};
      default: return HttpResponsePathsend{body.empty() ? "/f" : "rel"};
    }
  }
};

EventSpec random_spec() {
  EventSpec spec;
  spec.kind = *rc::gen::inRange<std::size_t>(0, 4);
  spec.status = *rc::gen::element<std::int64_t>(200, 204, 304, 404, 101, 700);
  spec.flag = *rc::gen::arbitrary<bool>();
  spec.body = *rc::gen::element<std::string>("", "x", "hello");
  spec.names = *rc::gen::container<std::vector<std::string>>(
      *rc::gen::inRange(0, 3), rc::gen::element<std::string>("x-a", "content-length", "bad name"));
  for (const std::string& name : spec.names) spec.headers.push_back({name, "1"});
  return spec;
}

RC_GTEST_PROP(AsgiHttpCycle, NoBytesAreProducedAfterTheEnd, ()) {
  HttpCycle cycle(CycleOptions{*rc::gen::arbitrary<bool>(), *rc::gen::arbitrary<bool>()});
  bool ended = false;
  bool head_sent = false;
  auto check = [&](const Actions& actions) {
    for (const Action& action : actions) {
      RC_ASSERT(!ended);
      if (std::holds_alternative<SendHead>(action)) {
        RC_ASSERT(!head_sent);
        head_sent = true;
      } else if (std::holds_alternative<SendData>(action) ||
                 std::holds_alternative<SendFile>(action)) {
        RC_ASSERT(head_sent);
      }
      if (std::holds_alternative<SendEnd>(action) || std::holds_alternative<Abort>(action)) {
        ended = true;
      }
    }
  };
  const int steps = *rc::gen::inRange(0, 12);
  for (int i = 0; i < steps; ++i) {
    EventSpec spec = random_spec();
    Result<Actions> r = cycle.on_app_send(spec.event());
    if (r) check(*r);
    if (ended) RC_ASSERT(cycle.is_done());
  }
  check(cycle.on_app_exit(*rc::gen::arbitrary<bool>() ? Outcome::raised : Outcome::returned));
  RC_ASSERT(ended);  // every cycle ends with exactly one end or abort
  RC_ASSERT(cycle.on_app_exit(Outcome::returned).empty());
}

TEST(AsgiHttpCycle, LargeBodyPiecesAreHandedOverWithoutCopying) {
  HttpCycle cycle;
  std::string first(kMergeBodyPieceBytes + 1, 'a');
  std::string second(2 * kMergeBodyPieceBytes, 'b');
  const char* first_data = first.data();
  const char* second_data = second.data();
  cycle.take_body(std::move(first), true);
  cycle.take_body(std::move(second), false);
  std::optional<ReceiveParts> parts = cycle.next_receive_parts();
  ASSERT_TRUE(parts.has_value());
  const auto* request = std::get_if<RequestParts>(&*parts);
  ASSERT_NE(request, nullptr);
  ASSERT_EQ(request->pieces.size(), 2u);
  EXPECT_EQ(request->pieces[0].data(), first_data);  // the same buffers: no merge, no copy
  EXPECT_EQ(request->pieces[1].data(), second_data);
  EXPECT_EQ(request->bytes, 3 * kMergeBodyPieceBytes + 1);
  EXPECT_FALSE(request->more_body);
  EXPECT_EQ(cycle.pending_receive_bytes(), 0u);
  EXPECT_FALSE(cycle.next_receive_parts().has_value());
}

// A body the server side made in memory it owns (the bridge: the app's bytes object) is handed
// over as it is: the same bytes, the same hold.
TEST(AsgiHttpCycle, AHeldBodyIsHandedOverAsItIs) {
  HttpCycle cycle;
  auto memory = std::make_shared<std::string>("the whole body");
  const std::string_view bytes = *memory;
  cycle.take_held(bytes, memory, false);
  EXPECT_EQ(cycle.pending_receive_bytes(), bytes.size());
  std::optional<ReceiveParts> parts = cycle.next_receive_parts();
  ASSERT_TRUE(parts.has_value());
  const auto* request = std::get_if<RequestParts>(&*parts);
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(request->held.get(), memory.get());
  EXPECT_EQ(request->held_bytes.data(), bytes.data());
  EXPECT_EQ(request->held_bytes.size(), bytes.size());
  EXPECT_TRUE(request->pieces.empty());
  EXPECT_EQ(request->bytes, bytes.size());
  EXPECT_FALSE(request->more_body);
  EXPECT_EQ(cycle.pending_receive_bytes(), 0u);
  // After the last piece, more is ignored.
  cycle.take_held(bytes, memory, false);
  EXPECT_FALSE(cycle.next_receive_parts().has_value());
}

// Bytes queued before or after held ones keep their order: the held bytes are copied then.
TEST(AsgiHttpCycle, HeldBytesQueuedWithOthersKeepTheirOrder) {
  {
    HttpCycle cycle;
    auto memory = std::make_shared<std::string>("held-");
    cycle.take_held(*memory, memory, true);
    cycle.take_body("then", false);
    std::optional<ReceiveParts> parts = cycle.next_receive_parts();
    ASSERT_TRUE(parts.has_value());
    const auto& request = std::get<RequestParts>(*parts);
    EXPECT_FALSE(request.held);
    EXPECT_EQ(request.pieces, (std::vector<std::string>{"held-then"}));
    EXPECT_EQ(request.bytes, 9u);
  }
  {
    HttpCycle cycle;
    auto memory = std::make_shared<std::string>("-held");
    cycle.take_body("first", true);
    cycle.take_held(*memory, memory, false);
    std::optional<ReceiveEvent> event = cycle.next_receive();
    ASSERT_TRUE(event.has_value());
    const auto& request = std::get<HttpRequest>(*event);
    EXPECT_EQ(request.body, "first-held");
    EXPECT_FALSE(request.more_body);
  }
  {
    HttpCycle cycle;  // next_receive() (merged) copies a held body alone too
    auto memory = std::make_shared<std::string>("alone");
    cycle.take_held(*memory, memory, false);
    std::optional<ReceiveEvent> event = cycle.next_receive();
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(std::get<HttpRequest>(*event).body, "alone");
  }
}

TEST(AsgiHttpCycle, SmallBodyPiecesAreMergedAsTheyQueue) {
  HttpCycle cycle;
  cycle.take_body("a", true);
  cycle.take_body("", true);
  cycle.take_body("bc", false);
  std::optional<ReceiveParts> parts = cycle.next_receive_parts();
  ASSERT_TRUE(parts.has_value());
  const auto* request = std::get_if<RequestParts>(&*parts);
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(request->pieces, std::vector<std::string>{"abc"});
  EXPECT_EQ(request->bytes, 3u);
}

TEST(AsgiHttpCycle, ReceivePartsReportDisconnectLikeReceive) {
  HttpCycle cycle;
  cycle.take_body("queued", true);
  cycle.on_disconnect();
  std::optional<ReceiveParts> parts = cycle.next_receive_parts();
  ASSERT_TRUE(parts.has_value());
  EXPECT_TRUE(std::holds_alternative<HttpDisconnect>(*parts));
}

// next_receive_parts (what the bridge calls) gives the same events as next_receive, for any
// pieces, sizes, flags and interleaving of receive() calls: the pieces joined are the body;
// none is empty; two neighbours are never both small enough to have been merged.
RC_GTEST_PROP(AsgiHttpCycle, ReceivePartsJoinedAreTheMergedEvents, ()) {
  const auto steps = *rc::gen::container<std::vector<std::tuple<std::size_t, char, bool, bool>>>(
      rc::gen::tuple(rc::gen::inRange<std::size_t>(0, 3 * kMergeBodyPieceBytes),
                     rc::gen::inRange<char>('a', 'z'), rc::gen::arbitrary<bool>(),
                     rc::gen::arbitrary<bool>()));
  HttpCycle merged;
  HttpCycle parted;
  const auto same = [&] {
    std::optional<ReceiveEvent> event = merged.next_receive();
    std::optional<ReceiveParts> parts = parted.next_receive_parts();
    RC_ASSERT(event.has_value() == parts.has_value());
    if (!event) return;
    RC_ASSERT(std::holds_alternative<HttpDisconnect>(*event) ==
              std::holds_alternative<HttpDisconnect>(*parts));
    const auto* request = std::get_if<HttpRequest>(&*event);
    if (request == nullptr) return;
    const auto& got = std::get<RequestParts>(*parts);
    std::string joined;
    for (std::size_t i = 0; i < got.pieces.size(); ++i) {
      RC_ASSERT(!got.pieces[i].empty());
      if (i > 0) {
        RC_ASSERT(got.pieces[i - 1].size() + got.pieces[i].size() > kMergeBodyPieceBytes);
      }
      joined += got.pieces[i];
    }
    RC_ASSERT(joined == request->body);
    RC_ASSERT(got.bytes == joined.size());
    RC_ASSERT(got.more_body == request->more_body);
  };
  for (const auto& [size, fill, more_body, receive_now] : steps) {
    merged.on_body(std::string(size, fill), more_body);
    parted.take_body(std::string(size, fill), more_body);
    RC_ASSERT(merged.pending_receive_bytes() == parted.pending_receive_bytes());
    if (receive_now) same();
  }
  same();
}

}  // namespace
}  // namespace lancet::asgi
