// Tests for protocol/asgi/websocket_cycle.hpp and websocket_events.hpp: the order rules and
// their messages, validation, the 403 and the denial response, on_app_exit, the receive side
// and the message credit.
#include "protocol/asgi/websocket_cycle.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "protocol/asgi/scope.hpp"

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

/// One line per action: "accept chat x: y", "text hi", "bytes ..", "close 1000 bye",
/// "head 403 ...", "data ..", "end", "abort".
std::string describe(const WebSocketActions& actions) {
  std::string out;
  for (const WebSocketAction& action : actions) {
    if (!out.empty()) out += " | ";
    if (const auto* a = std::get_if<AcceptWebSocket>(&action)) {
      out += "accept " + std::string(a->subprotocol) + describe_headers(a->headers);
    } else if (const auto* m = std::get_if<SendWebSocketMessage>(&action)) {
      out += (m->text ? "text " : "bytes ") + std::string(m->data);
    } else if (const auto* c = std::get_if<CloseWebSocket>(&action)) {
      out += "close " + std::to_string(c->code) + " " + std::string(c->reason);
    } else if (const auto* head = std::get_if<SendHead>(&action)) {
      out += "head " + std::to_string(head->status) + describe_headers(head->headers);
    } else if (const auto* data = std::get_if<SendData>(&action)) {
      out += "data " + std::string(data->bytes);
    } else if (std::holds_alternative<SendEnd>(action)) {
      out += "end";
    } else {
      out += "abort";
    }
  }
  return out;
}

std::string send_ok(WebSocketCycle& cycle, const WebSocketSendEvent& event) {
  Result<WebSocketActions> r = cycle.on_app_send(event);
  EXPECT_TRUE(r.has_value()) << event_type(event) << ": " << (r ? "" : r.error().detail);
  return r ? describe(*r) : "<error>";
}

Error send_error(WebSocketCycle& cycle, const WebSocketSendEvent& event) {
  Result<WebSocketActions> r = cycle.on_app_send(event);
  EXPECT_FALSE(r.has_value()) << event_type(event) << " was accepted: " << (r ? describe(*r) : "");
  return r ? Error{} : r.error();
}

WebSocketSend text(std::string_view s) { return WebSocketSend{std::nullopt, s}; }
WebSocketSend bytes(std::string_view s) { return WebSocketSend{s, std::nullopt}; }

/// A cycle whose connect was received and which the app accepted.
WebSocketCycle open_cycle() {
  WebSocketCycle cycle;
  EXPECT_TRUE(cycle.next_receive());
  EXPECT_EQ(send_ok(cycle, WebSocketAccept{}), "accept ");
  return cycle;
}

std::string receive(WebSocketCycle& cycle) {
  auto event = cycle.next_receive();
  if (!event) return "<none>";
  if (std::holds_alternative<WebSocketConnect>(*event)) return "connect";
  if (const auto* r = std::get_if<WebSocketReceive>(&*event)) {
    return (r->text ? "text " : "bytes ") + r->data;
  }
  const auto& d = std::get<WebSocketDisconnect>(*event);
  return "disconnect " + std::to_string(d.code) + (d.reason.empty() ? "" : " " + d.reason);
}

// ---- handshake -------------------------------------------------------------------------------

TEST(AsgiWebSocketCycle, ConnectIsTheFirstEventThenNothingUntilAMessage) {
  WebSocketCycle cycle;
  EXPECT_EQ(receive(cycle), "connect");
  EXPECT_EQ(receive(cycle), "<none>");
  EXPECT_EQ(cycle.state(), WebSocketState::handshake);
}

TEST(AsgiWebSocketCycle, AcceptCarriesTheSubprotocolAndHeaders) {
  WebSocketCycle cycle;
  const std::vector<Header> headers = {{"x-extra", "1"}};
  EXPECT_EQ(send_ok(cycle, WebSocketAccept{"chat.v2", headers}), "accept chat.v2 x-extra: 1");
  EXPECT_EQ(cycle.state(), WebSocketState::open);
}

TEST(AsgiWebSocketCycle, SendBeforeAcceptSaysWhatWasExpected) {
  WebSocketCycle cycle;
  const Error e = send_error(cycle, text("early"));
  EXPECT_EQ(e.code, Errc::unexpected_event);
  EXPECT_EQ(e.origin, Origin::local);
  EXPECT_STREQ(e.detail,
               "expected 'websocket.accept', 'websocket.close' or "
               "'websocket.http.response.start', got 'websocket.send'");
  // A rejected event changes nothing: the app may still accept.
  EXPECT_EQ(send_ok(cycle, WebSocketAccept{}), "accept ");
}

TEST(AsgiWebSocketCycle, CloseBeforeAcceptIsAnEmpty403) {
  WebSocketCycle cycle;
  EXPECT_EQ(send_ok(cycle, WebSocketClose{4000, "go away"}), "head 403 content-length: 0 | end");
  EXPECT_EQ(cycle.state(), WebSocketState::closed);
  EXPECT_TRUE(cycle.is_done());
  EXPECT_EQ(receive(cycle), "connect");
  EXPECT_EQ(receive(cycle), "disconnect 1006");
  EXPECT_STREQ(send_error(cycle, WebSocketAccept{}).detail,
               "unexpected 'websocket.accept' after the handshake was answered over HTTP");
}

TEST(AsgiWebSocketCycle, DenialResponseIsFramedAsAnHttpResponse) {
  WebSocketCycle cycle;
  const std::vector<Header> headers = {{"content-type", "text/plain"}};
  EXPECT_EQ(send_ok(cycle, WebSocketHttpResponseStart{401, headers}), "");
  EXPECT_EQ(cycle.state(), WebSocketState::responding);
  EXPECT_STREQ(send_error(cycle, text("x")).detail,
               "expected 'websocket.http.response.body', got 'websocket.send'");
  EXPECT_EQ(send_ok(cycle, WebSocketHttpResponseBody{"no ", true}),
            "head 401 content-type: text/plain | data no ");
  EXPECT_EQ(send_ok(cycle, WebSocketHttpResponseBody{"entry", false}), "data entry | end");
  EXPECT_EQ(cycle.state(), WebSocketState::closed);
  EXPECT_EQ(send_error(cycle, WebSocketClose{}).code, Errc::event_after_response);
}

TEST(AsgiWebSocketCycle, OneShotDenialGetsAContentLength) {
  WebSocketCycle cycle;
  send_ok(cycle, WebSocketHttpResponseStart{418, {}});
  EXPECT_EQ(send_ok(cycle, WebSocketHttpResponseBody{"teapot", false}),
            "head 418 content-length: 6 | data teapot | end");
}

TEST(AsgiWebSocketCycle, DenialStatusAndHeadersAreValidated) {
  WebSocketCycle cycle;
  EXPECT_EQ(send_error(cycle, WebSocketHttpResponseStart{101, {}}).code, Errc::invalid_status);
  const std::vector<Header> bad = {{"x", "a\r\nb"}};
  EXPECT_EQ(send_error(cycle, WebSocketHttpResponseStart{400, bad}).code,
            Errc::invalid_response_header_value);
  EXPECT_EQ(cycle.state(), WebSocketState::handshake);
}

TEST(AsgiWebSocketCycle, AcceptValidation) {
  WebSocketCycle cycle;
  EXPECT_EQ(send_error(cycle, WebSocketAccept{"not a token", {}}).code,
            Errc::invalid_event_field);
  EXPECT_EQ(send_error(cycle, WebSocketAccept{"", {}}).code, Errc::invalid_event_field);
  const std::vector<Header> protocol = {{"Sec-WebSocket-Protocol", "chat"}};
  EXPECT_STREQ(send_error(cycle, WebSocketAccept{std::nullopt, protocol}).detail,
               "expected no 'sec-websocket-protocol' header in 'websocket.accept' (use its "
               "'subprotocol' key), got one");
  const std::vector<Header> bad_name = {{"bad name", "v"}};
  EXPECT_EQ(send_error(cycle, WebSocketAccept{std::nullopt, bad_name}).code,
            Errc::invalid_response_header_name);
}

// ---- open ------------------------------------------------------------------------------------

TEST(AsgiWebSocketCycle, MessagesGoOutAsTextOrBytes) {
  WebSocketCycle cycle = open_cycle();
  EXPECT_EQ(send_ok(cycle, text("hello")), "text hello");
  EXPECT_EQ(send_ok(cycle, bytes("\x01\x02")), "bytes \x01\x02");
  EXPECT_EQ(send_ok(cycle, text("")), "text ");
}

TEST(AsgiWebSocketCycle, SendNeedsExactlyOneOfBytesAndText) {
  WebSocketCycle cycle = open_cycle();
  EXPECT_STREQ(send_error(cycle, WebSocketSend{"b", "t"}).detail,
               "expected exactly one of 'bytes' and 'text' in 'websocket.send', got both");
  EXPECT_STREQ(send_error(cycle, WebSocketSend{}).detail,
               "expected exactly one of 'bytes' and 'text' in 'websocket.send', got neither");
}

TEST(AsgiWebSocketCycle, AcceptTwiceIsOutOfOrder) {
  WebSocketCycle cycle = open_cycle();
  EXPECT_STREQ(send_error(cycle, WebSocketAccept{}).detail,
               "expected 'websocket.send' or 'websocket.close', got 'websocket.accept'");
  EXPECT_EQ(send_error(cycle, WebSocketHttpResponseStart{403, {}}).code, Errc::unexpected_event);
}

TEST(AsgiWebSocketCycle, CloseCodeAndReasonAreValidated) {
  WebSocketCycle cycle = open_cycle();
  for (std::int64_t code : {0, 999, 1004, 1005, 1006, 1012, 1015, 2999, 5000, 70000, -1}) {
    EXPECT_EQ(send_error(cycle, WebSocketClose{code, ""}).code, Errc::invalid_event_field)
        << code;
  }
  EXPECT_EQ(send_error(cycle, WebSocketClose{1000, std::string(124, 'r')}).code,
            Errc::invalid_event_field);
  EXPECT_EQ(cycle.state(), WebSocketState::open);
  EXPECT_EQ(send_ok(cycle, WebSocketClose{4001, std::string(123, 'r')}),
            "close 4001 " + std::string(123, 'r'));
}

TEST(AsgiWebSocketCycle, SendAfterCloseSaysSo) {
  WebSocketCycle cycle = open_cycle();
  EXPECT_EQ(send_ok(cycle, WebSocketClose{1000, "bye"}), "close 1000 bye");
  const Error e = send_error(cycle, text("late"));
  EXPECT_EQ(e.code, Errc::event_after_response);
  EXPECT_STREQ(e.detail, "unexpected 'websocket.send' after 'websocket.close'");
  EXPECT_STREQ(send_error(cycle, WebSocketClose{}).detail,
               "unexpected 'websocket.close' after 'websocket.close'");
  // The app's receive() then ends with its own code.
  EXPECT_EQ(receive(cycle), "disconnect 1000 bye");
}

// ---- the connection going away ----------------------------------------------------------------

TEST(AsgiWebSocketCycle, SendAfterThePeerClosedIsTheDisconnectError) {
  WebSocketCycle cycle = open_cycle();
  cycle.on_closed(1001, "bye");
  const Error e = send_error(cycle, text("late"));
  EXPECT_TRUE(is_disconnect_error(e));
  EXPECT_EQ(e.origin, Origin::remote);
  // Closing a gone connection is accepted and does nothing.
  EXPECT_EQ(send_ok(cycle, WebSocketClose{}), "");
  EXPECT_EQ(receive(cycle), "disconnect 1001 bye");
  EXPECT_EQ(receive(cycle), "disconnect 1001 bye");  // forever
}

TEST(AsgiWebSocketCycle, AcceptAfterTheClientLeftIsTheDisconnectError) {
  WebSocketCycle cycle;
  cycle.on_disconnect();
  EXPECT_TRUE(is_disconnect_error(send_error(cycle, WebSocketAccept{})));
  EXPECT_EQ(receive(cycle), "connect");
  EXPECT_EQ(receive(cycle), "disconnect 1006");
}

TEST(AsgiWebSocketCycle, QueuedMessagesComeBeforeTheDisconnect) {
  WebSocketCycle cycle = open_cycle();
  cycle.on_message("one", true);
  cycle.on_message(std::string("\0two", 4), false);
  cycle.on_closed(1000, "");
  cycle.on_message("ignored", true);
  cycle.on_closed(1002, "ignored too");
  EXPECT_EQ(cycle.pending_messages(), 2u);
  EXPECT_EQ(receive(cycle), "text one");
  EXPECT_EQ(receive(cycle), std::string("bytes \0two", 10));
  EXPECT_EQ(receive(cycle), "disconnect 1000");
}

TEST(AsgiWebSocketCycle, TheAppsCloseDropsQueuedMessages) {
  WebSocketCycle cycle = open_cycle();
  cycle.on_message("unread", true);
  send_ok(cycle, WebSocketClose{3000, ""});
  cycle.on_closed(1000, "the peer's echo");
  EXPECT_EQ(receive(cycle), "disconnect 3000");
}

TEST(AsgiWebSocketCycle, EachMessageHandedOutIsCountedOnce) {
  WebSocketCycle cycle = open_cycle();
  EXPECT_EQ(cycle.take_consumed(), 0u);  // the connect is not a message
  cycle.on_message("a", true);
  cycle.on_message("b", true);
  cycle.on_message("c", true);
  EXPECT_EQ(receive(cycle), "text a");
  EXPECT_EQ(receive(cycle), "text b");
  EXPECT_EQ(cycle.take_consumed(), 2u);
  EXPECT_EQ(cycle.take_consumed(), 0u);
  EXPECT_EQ(receive(cycle), "text c");
  EXPECT_EQ(receive(cycle), "<none>");
  EXPECT_EQ(cycle.take_consumed(), 1u);
}

// ---- on_app_exit -----------------------------------------------------------------------------

TEST(AsgiWebSocketCycle, ReturningWithoutAnsweringIs500) {
  WebSocketCycle cycle;
  EXPECT_EQ(describe(cycle.on_app_exit(Outcome::returned)),
            "head 500 content-type: text/plain; charset=utf-8, content-length: 21, connection: "
            "close | data Internal Server Error | end");
  EXPECT_TRUE(cycle.on_app_exit(Outcome::returned).empty());
}

TEST(AsgiWebSocketCycle, ExitAfterTheClientLeftDuringTheHandshakeAborts) {
  WebSocketCycle cycle;
  cycle.on_disconnect();
  EXPECT_EQ(describe(cycle.on_app_exit(Outcome::raised)), "abort");
}

TEST(AsgiWebSocketCycle, ExitMidDenialAborts) {
  WebSocketCycle cycle;
  send_ok(cycle, WebSocketHttpResponseStart{400, {}});
  send_ok(cycle, WebSocketHttpResponseBody{"part", true});
  EXPECT_EQ(describe(cycle.on_app_exit(Outcome::raised)), "abort");
}

TEST(AsgiWebSocketCycle, ExitWhileOpenClosesWith1000Or1011) {
  WebSocketCycle returned = open_cycle();
  EXPECT_EQ(describe(returned.on_app_exit(Outcome::returned)), "close 1000 ");
  WebSocketCycle raised = open_cycle();
  EXPECT_EQ(describe(raised.on_app_exit(Outcome::raised)), "close 1011 ");
  WebSocketCycle gone = open_cycle();
  gone.on_closed(1000, "");
  EXPECT_TRUE(gone.on_app_exit(Outcome::returned).empty());
  WebSocketCycle closed = open_cycle();
  send_ok(closed, WebSocketClose{});
  EXPECT_TRUE(closed.on_app_exit(Outcome::raised).empty());
}

// ---- properties ------------------------------------------------------------------------------

// Whatever the app sends in whatever order, the cycle answers the handshake at most once,
// never sends a message or close before an accept or after a close, and a rejected event
// changes nothing.
RC_GTEST_PROP(AsgiWebSocketCycle, NothingReachesTheWireOutOfOrder, ()) {
  const auto kinds = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 7));
  WebSocketCycle cycle;
  bool answered = false;
  bool open = false;
  bool closed = false;
  for (int kind : kinds) {
    WebSocketSendEvent event;
    switch (kind) {
      case 0: event = WebSocketAccept{}; break;
      case 1: event = text("m"); break;
      case 2: event = WebSocketClose{1000, ""}; break;
      case 3: event = WebSocketHttpResponseStart{400, {}}; break;
      case 4: event = WebSocketHttpResponseBody{"b", false}; break;
      case 5: event = WebSocketHttpResponseBody{"b", true}; break;
      default: event = WebSocketClose{1, ""}; break;  // invalid code
    }
    const WebSocketState before = cycle.state();
    auto r = cycle.on_app_send(event);
    if (!r) {
      RC_ASSERT(cycle.state() == before);
      continue;
    }
    for (const WebSocketAction& a : *r) {
      if (std::holds_alternative<AcceptWebSocket>(a)) {
        RC_ASSERT(!answered);
        answered = open = true;
      } else if (std::holds_alternative<SendWebSocketMessage>(a) ||
                 std::holds_alternative<CloseWebSocket>(a)) {
        RC_ASSERT(open && !closed);
        if (std::holds_alternative<CloseWebSocket>(a)) closed = true;
      } else if (std::holds_alternative<SendHead>(a)) {
        RC_ASSERT(!answered);
        answered = true;
      }
    }
  }
}

// ---- the 'websocket' scope ---------------------------------------------------------------------

TEST(AsgiWebSocketScope, TypeSpecVersionAndScheme) {
  HttpScope scope;
  to_websocket_scope(scope);
  EXPECT_EQ(scope.type, "websocket");
  EXPECT_EQ(scope.spec_version, "2.5");
  EXPECT_EQ(scope.scheme, "ws");
  HttpScope proxied;
  proxied.scheme = "https";
  to_websocket_scope(proxied);
  EXPECT_EQ(proxied.scheme, "wss");
}

}  // namespace
}  // namespace lancet::asgi
