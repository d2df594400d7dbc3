// ServerConnection, output side: response framing on the wire, validation, output queue.
#include <gtest/gtest.h>

#include <memory>

#include "harness.hpp"

namespace lancet::http1 {
namespace {

using testing::drain;
using testing::receive_all;

// A connection that has received `request` completely, with a fixed Date and no Server.
std::unique_ptr<ServerConnection> after(std::string_view request, Options o = {}) {
  o.server_header.clear();
  auto conn = std::make_unique<ServerConnection>(o);
  conn->set_date("Sun, 06 Nov 1994 08:49:37 GMT");
  conn->receive_data(request);
  receive_all(*conn);
  return conn;
}

constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
constexpr std::string_view kHead = "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n";
constexpr std::string_view kGet10 = "GET / HTTP/1.0\r\n\r\n";

TEST(Http1Response, ContentLengthBodyIsSentAsIs) {
  auto conn = after(kGet);
  const Header h[] = {{"content-type", "text/plain"}, {"content-length", "5"}};
  ASSERT_TRUE(conn->send({200, h, {}}));
  ASSERT_TRUE(conn->send_data("hello"));
  ASSERT_TRUE(conn->send_end());
  EXPECT_EQ(drain(*conn),
            "HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\ncontent-type: text/plain\r\n"
            "content-length: 5\r\n\r\nhello");
  EXPECT_EQ(conn->our_state(), State::done);
  EXPECT_TRUE(conn->start_next_cycle());
}

TEST(Http1Response, NoLengthOnHttp11IsChunked) {
  auto conn = after(kGet);
  ASSERT_TRUE(conn->send({200, {}, {}}));
  ASSERT_TRUE(conn->send_data("hello"));
  ASSERT_TRUE(conn->send_data(""));
  ASSERT_TRUE(conn->send_data(" world!"));
  ASSERT_TRUE(conn->send_end());
  EXPECT_EQ(drain(*conn),
            "HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\ntransfer-encoding: chunked\r\n"
            "\r\n5\r\nhello\r\n7\r\n world!\r\n0\r\n\r\n");
}

TEST(Http1Response, ChunkedTrailersAreSent) {
  auto conn = after(kGet);
  ASSERT_TRUE(conn->send({200, {}, {}}));
  const Header t[] = {{"x-checksum", "abc"}};
  ASSERT_TRUE(conn->send_end(t));
  EXPECT_TRUE(drain(*conn).ends_with("0\r\nx-checksum: abc\r\n\r\n"));
}

TEST(Http1Response, NoLengthOnHttp10IsCloseDelimited) {
  auto conn = after(kGet10);
  ASSERT_TRUE(conn->send({200, {}, {}}));
  ASSERT_TRUE(conn->send_data("abc"));
  ASSERT_TRUE(conn->send_end());
  EXPECT_EQ(drain(*conn),
            "HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\nconnection: close\r\n\r\nabc");
  EXPECT_EQ(conn->our_state(), State::must_close);
}

TEST(Http1Response, Http10KeepAliveWithLengthSaysKeepAlive) {
  auto conn = after("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const Header h[] = {{"content-length", "0"}};
  ASSERT_TRUE(conn->send({200, h, {}}));
  ASSERT_TRUE(conn->send_end());
  EXPECT_NE(drain(*conn).find("connection: keep-alive\r\n"), std::string::npos);
  EXPECT_TRUE(conn->start_next_cycle());
}

TEST(Http1Response, HeadResponseHasNoBodyButKeepsLength) {
  auto conn = after(kHead);
  const Header h[] = {{"content-length", "5"}};
  ASSERT_TRUE(conn->send({200, h, {}}));
  ASSERT_TRUE(conn->send_data("hello"));
  ASSERT_TRUE(conn->send_end());
  EXPECT_EQ(drain(*conn),
            "HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\ncontent-length: 5\r\n\r\n");
}

TEST(Http1Response, NoContentDropsLengthFieldsAndBody) {
  auto conn = after(kGet);
  const Header h[] = {{"content-length", "0"}, {"x", "y"}};
  ASSERT_TRUE(conn->send({204, h, {}}));
  ASSERT_TRUE(conn->send_data("ignored"));
  ASSERT_TRUE(conn->send_end());
  EXPECT_EQ(drain(*conn),
            "HTTP/1.1 204 No Content\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\nx: y\r\n\r\n");
}

TEST(Http1Response, NotModifiedKeepsLengthWithoutBody) {
  auto conn = after(kGet);
  const Header h[] = {{"content-length", "10"}};
  ASSERT_TRUE(conn->send({304, h, {}}));
  ASSERT_TRUE(conn->send_end());
  EXPECT_EQ(drain(*conn),
            "HTTP/1.1 304 Not Modified\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "content-length: 10\r\n\r\n");
}

TEST(Http1Response, BodyOverContentLengthIsLocalError) {
  auto conn = after(kGet);
  const Header h[] = {{"content-length", "3"}};
  ASSERT_TRUE(conn->send({200, h, {}}));
  auto r = conn->send_data("four");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::body_exceeds_content_length);
  EXPECT_EQ(r.error().origin, Origin::local);
  EXPECT_EQ(conn->our_state(), State::error);
  EXPECT_TRUE(conn->should_close());
}

// send_data_written: body bytes the caller wrote itself (a spliced file) count against
// Content-Length exactly as queued ones do, and only where the wire bytes are the body's.
TEST(Http1Response, BodyWrittenElsewhereCountsAgainstContentLength) {
  auto conn = after(kGet);
  const Header h[] = {{"content-length", "10"}};
  ASSERT_TRUE(conn->send({200, h, {}}));
  EXPECT_EQ(conn->body_framing(), BodyFraming::content_length);
  ASSERT_TRUE(conn->send_data("abc"));
  // Still queued: bytes written past the queue would overtake them.
  auto queued = conn->send_data_written(2);
  ASSERT_FALSE(queued);
  EXPECT_EQ(queued.error().code, Errc::send_out_of_order);
  drain(*conn);
  ASSERT_TRUE(conn->send_data_written(7));
  EXPECT_TRUE(conn->send_end());  // 3 queued + 7 written = Content-Length
  EXPECT_EQ(drain(*conn), "");
  EXPECT_EQ(conn->our_state(), State::done);
}

TEST(Http1Response, BodyWrittenElsewhereOneByteOverContentLengthIsLocalError) {
  auto conn = after(kGet);
  const Header h[] = {{"content-length", "4"}};
  ASSERT_TRUE(conn->send({200, h, {}}));
  drain(*conn);
  ASSERT_TRUE(conn->send_data_written(4));
  auto r = conn->send_data_written(1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::body_exceeds_content_length);
  EXPECT_EQ(conn->our_state(), State::error);
  EXPECT_TRUE(conn->should_close());
}

TEST(Http1Response, BodyWrittenElsewhereIsRefusedForChunkedAndBodilessResponses) {
  auto chunked = after(kGet);
  ASSERT_TRUE(chunked->send({200, {}, {}}));
  EXPECT_EQ(chunked->body_framing(), BodyFraming::chunked);
  drain(*chunked);
  auto r = chunked->send_data_written(1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::send_out_of_order);

  auto head = after(kHead);
  const Header h[] = {{"content-length", "4"}};
  ASSERT_TRUE(head->send({200, h, {}}));
  EXPECT_EQ(head->body_framing(), BodyFraming::none);
  drain(*head);
  EXPECT_FALSE(head->send_data_written(4));
}

TEST(Http1Response, BodyWrittenElsewhereIsAllowedForACloseDelimitedBody) {
  auto conn = after(kGet10);
  ASSERT_TRUE(conn->send({200, {}, {}}));
  EXPECT_EQ(conn->body_framing(), BodyFraming::until_close);
  drain(*conn);
  ASSERT_TRUE(conn->send_data_written(1 << 20));
  EXPECT_TRUE(conn->send_end());
}

TEST(Http1Response, EndBeforeContentLengthIsLocalError) {
  auto conn = after(kGet);
  const Header h[] = {{"content-length", "3"}};
  ASSERT_TRUE(conn->send({200, h, {}}));
  ASSERT_TRUE(conn->send_data("ab"));
  auto r = conn->send_end();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::body_shorter_than_content_length);
  EXPECT_FALSE(conn->keep_alive());
}

TEST(Http1Response, InvalidStatusAndFieldsAreRejectedBeforeAnyByte) {
  auto conn = after(kGet);
  EXPECT_EQ(conn->send({99, {}, {}}).error().code, Errc::invalid_status);
  EXPECT_EQ(conn->send({600, {}, {}}).error().code, Errc::invalid_status);
  const Header bad_name[] = {{"bad name", "x"}};
  EXPECT_EQ(conn->send({200, bad_name, {}}).error().code, Errc::invalid_response_header_name);
  const Header bad_value[] = {{"x", "a\r\nInjected: 1"}};
  EXPECT_EQ(conn->send({200, bad_value, {}}).error().code, Errc::invalid_response_header_value);
  const Header both[] = {{"content-length", "1"}, {"transfer-encoding", "chunked"}};
  EXPECT_EQ(conn->send({200, both, {}}).error().code, Errc::response_framing_conflict);
  const Header gzip[] = {{"transfer-encoding", "gzip"}};
  EXPECT_EQ(conn->send({200, gzip, {}}).error().code, Errc::response_framing_conflict);
  const Header bad_cl[] = {{"content-length", "-1"}};
  EXPECT_EQ(conn->send({200, bad_cl, {}}).error().code, Errc::invalid_response_content_length);
  EXPECT_EQ(conn->pending_output_bytes(), 0u);
  EXPECT_EQ(conn->our_state(), State::idle);
}

TEST(Http1Response, SendsOutOfOrderAreLocalErrors) {
  ServerConnection idle;
  EXPECT_EQ(idle.send({200, {}, {}}).error().code, Errc::send_out_of_order);
  auto conn = after(kGet);
  EXPECT_EQ(conn->send_data("x").error().code, Errc::send_out_of_order);
  EXPECT_EQ(conn->send_end().error().code, Errc::send_out_of_order);
  ASSERT_TRUE(conn->send({200, {}, {}}));
  EXPECT_EQ(conn->send({200, {}, {}}).error().code, Errc::send_out_of_order);
}

TEST(Http1Response, AppConnectionCloseIsHonouredAndAppConnectionHeaderReplaced) {
  auto conn = after(kGet);
  const Header h[] = {{"connection", "close"}, {"content-length", "0"}};
  ASSERT_TRUE(conn->send({200, h, {}}));
  ASSERT_TRUE(conn->send_end());
  auto out = drain(*conn);
  EXPECT_EQ(out.find("connection: close"), out.rfind("connection: close"));
  EXPECT_NE(out.find("connection: close\r\n"), std::string::npos);
  EXPECT_FALSE(conn->keep_alive());
}

TEST(Http1Response, RequestCloseMarksEveryResponse) {
  auto conn = after(kGet);
  conn->request_close();
  const Header h[] = {{"content-length", "0"}};
  ASSERT_TRUE(conn->send({200, h, {}}));
  ASSERT_TRUE(conn->send_end());
  EXPECT_NE(drain(*conn).find("connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(conn->should_close());
}

TEST(Http1Response, ServerAndDateHeadersAreAddedUnlessTheAppSendsThem) {
  Options o;
  auto conn = std::make_unique<ServerConnection>(o);
  conn->set_date("D");
  conn->receive_data(kGet);
  receive_all(*conn);
  const Header h[] = {{"server", "mine"}, {"content-length", "0"}};
  ASSERT_TRUE(conn->send({200, h, {}}));
  ASSERT_TRUE(conn->send_end());
  EXPECT_EQ(drain(*conn), "HTTP/1.1 200 OK\r\ndate: D\r\nserver: mine\r\ncontent-length: 0\r\n\r\n");
}

TEST(Http1Response, InformationalToHttp10IsDropped) {
  auto conn = after(kGet10);
  ASSERT_TRUE(conn->send({103, {}, {}}));
  EXPECT_EQ(conn->pending_output_bytes(), 0u);
  EXPECT_EQ(conn->our_state(), State::idle);
}

TEST(Http1Response, EarlyHintsPrecedeTheFinalResponse) {
  auto conn = after(kGet);
  const Header link[] = {{"link", "</style.css>; rel=preload"}};
  ASSERT_TRUE(conn->send({103, link, {}}));
  EXPECT_EQ(conn->our_state(), State::idle);
  const Header h[] = {{"content-length", "0"}};
  ASSERT_TRUE(conn->send({200, h, {}}));
  EXPECT_TRUE(drain(*conn).starts_with(
      "HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n"));
}

TEST(Http1Response, SwitchingProtocolsNeedsAnUpgradeRequest) {
  auto conn = after(kGet);
  EXPECT_EQ(conn->send({101, {}, {}}).error().code, Errc::invalid_status);
}

TEST(Http1Response, LargeHeldBodiesAreBorrowedAndReleasedWhenWritten) {
  auto conn = after(kGet);
  const std::string body(10000, 'b');
  auto owner = std::make_shared<std::string>(body);
  std::weak_ptr<std::string> watch = owner;
  const Header h[] = {{"content-length", "10000"}};
  ASSERT_TRUE(conn->send({200, h, {}}));
  ASSERT_TRUE(conn->send_data(*owner, owner));
  owner.reset();
  EXPECT_FALSE(watch.expired());  // the queue holds it
  std::array<std::string_view, 4> views;
  ASSERT_EQ(conn->pending_output(views), 2u);
  EXPECT_EQ(views[1].data(), watch.lock()->data());  // borrowed, not copied
  drain(*conn);
  EXPECT_TRUE(watch.expired());
}

TEST(Http1Response, PartialConsumeKeepsTheRestInOrder) {
  auto conn = after(kGet);
  const Header h[] = {{"content-length", "6"}};
  ASSERT_TRUE(conn->send({200, h, {}}));
  ASSERT_TRUE(conn->send_data("abcdef"));
  const std::size_t total = conn->pending_output_bytes();
  std::array<std::string_view, 4> views;
  std::string written;
  while (conn->pending_output_bytes() > 0) {
    conn->pending_output(views);
    written += views[0].substr(0, 3);
    conn->consume_output(std::min<std::size_t>(3, views[0].size()));
  }
  EXPECT_EQ(written.size(), total);
  EXPECT_TRUE(written.ends_with("\r\n\r\nabcdef"));
}

TEST(Http1Response, ErrorResponseToHeadHasNoBody) {
  auto conn = after(kHead);
  conn->send_error_response(make_remote_error(Errc::request_timeout, "too slow"));
  auto out = drain(*conn);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 408 Request Timeout\r\n"));
  EXPECT_TRUE(out.ends_with("connection: close\r\n\r\n"));
}

}  // namespace
}  // namespace lancet::http1
