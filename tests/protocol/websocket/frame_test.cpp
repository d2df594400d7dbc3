// Frame header decoding checks and header encoding.
#include "protocol/websocket/frame.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace lancet;
using namespace lancet::websocket;

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s += static_cast<char>(b);
  return s;
}

Errc error_of(const std::string& b, bool allow_rsv1 = false) {
  auto r = decode_frame_header(b, allow_rsv1);
  EXPECT_FALSE(r.has_value());
  return r ? Errc::bad_request : r.error().code;
}

TEST(FrameHeader, DecodesAMaskedTextHeader) {
  auto r = decode_frame_header(bytes({0x81, 0x85, 1, 2, 3, 4}), false);
  ASSERT_TRUE(r && r->complete);
  EXPECT_TRUE(r->header.fin);
  EXPECT_EQ(r->header.opcode, Opcode::text);
  EXPECT_EQ(r->header.length, 5u);
  EXPECT_EQ(r->header.header_size, 6u);
  EXPECT_EQ(r->header.mask[3], 4);
}

TEST(FrameHeader, IncompleteHeaderNeedsMoreBytes) {
  for (const std::string& b : {bytes({0x82}), bytes({0x82, 0xfe, 0x01}), bytes({0x82, 0x80, 1})}) {
    auto r = decode_frame_header(b, false);
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->complete);
  }
}

TEST(FrameHeader, ViolationsAreReportedWithTheirCodes) {
  EXPECT_EQ(error_of(bytes({0x81, 0x05})), Errc::ws_unmasked_frame);
  EXPECT_EQ(error_of(bytes({0xc1, 0x80})), Errc::ws_reserved_bits);
  EXPECT_EQ(error_of(bytes({0xa1, 0x80})), Errc::ws_reserved_bits);
  EXPECT_EQ(error_of(bytes({0x91, 0x80})), Errc::ws_reserved_bits);
  EXPECT_EQ(error_of(bytes({0x83, 0x80})), Errc::ws_unknown_opcode);
  EXPECT_EQ(error_of(bytes({0x8b, 0x80})), Errc::ws_unknown_opcode);
  EXPECT_EQ(error_of(bytes({0x09, 0x80})), Errc::ws_fragmented_control_frame);
  EXPECT_EQ(error_of(bytes({0x89, 0xfe})), Errc::ws_control_frame_too_long);
  EXPECT_EQ(error_of(bytes({0x82, 0xfe, 0x00, 0x7d})), Errc::ws_invalid_length);
  EXPECT_EQ(error_of(bytes({0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff})), Errc::ws_invalid_length);
  EXPECT_EQ(error_of(bytes({0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0})), Errc::ws_invalid_length);
}

TEST(FrameHeader, Rsv1IsAllowedOnlyWhenNegotiated) {
  auto r = decode_frame_header(bytes({0xc1, 0x80, 0, 0, 0, 0}), true);
  ASSERT_TRUE(r && r->complete);
  EXPECT_TRUE(r->header.rsv1);
}

TEST(FrameHeader, EncodesMinimalLengths) {
  for (std::uint64_t n : {0ull, 125ull, 126ull, 65535ull, 65536ull, 1ull << 40}) {
    std::string h;
    append_frame_header(h, Opcode::binary, true, false, n);
    EXPECT_EQ(h.size(), n < 126 ? 2u : n < 65536 ? 4u : 10u);
    std::string masked = h;
    masked[1] = static_cast<char>(masked[1] | 0x80);
    masked += std::string(4, '\0');
    auto r = decode_frame_header(masked, false);
    ASSERT_TRUE(r && r->complete) << n;
    EXPECT_EQ(r->header.length, n);
  }
}

TEST(FrameHeader, CloseCodeRulesFollowRfc6455) {
  for (std::uint16_t c : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}) {
    EXPECT_TRUE(is_valid_close_code(c)) << c;
  }
  for (std::uint16_t c : {0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    EXPECT_FALSE(is_valid_close_code(c)) << c;
  }
}

TEST(FrameHeader, MaskIsAnInvolutionAtAnyOffset) {
  std::string s = "Hello, WebSocket";
  const std::array<std::uint8_t, 4> mask = {0xde, 0xad, 0xbe, 0xef};
  apply_mask(s.data(), 5, mask, 0);
  apply_mask(s.data() + 5, s.size() - 5, mask, 5);
  EXPECT_NE(s, "Hello, WebSocket");
  apply_mask(s.data(), s.size(), mask, 0);
  EXPECT_EQ(s, "Hello, WebSocket");
}

}  // namespace

namespace lancet {
namespace {

TEST(WebSocketErrors, ProtocolErrorsAreFatalAndAppMisuseIsNot) {
  EXPECT_TRUE(is_fatal(Errc::ws_unmasked_frame));
  EXPECT_TRUE(is_fatal(Errc::ws_invalid_utf8));
  EXPECT_TRUE(is_fatal(Errc::ws_message_too_big));
  EXPECT_FALSE(is_fatal(Errc::ws_send_after_close));
  EXPECT_FALSE(is_fatal(Errc::unexpected_event));
}

}  // namespace
}  // namespace lancet
