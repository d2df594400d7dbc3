// Incremental UTF-8 validation (RFC 3629 §4; Unicode 15 Table 3-7, well-formed byte sequences).
//
// Layer: protocol/websocket. RFC 6455 §8.1: an endpoint that receives invalid UTF-8 in a text
// message MUST fail the connection (1007). The validator keeps the state of a code point split
// across fragments or reads, and rejects a sequence at its first impossible byte (an overlong
// lead, a surrogate, a code point over U+10FFFF), not at the end of the message: Autobahn's
// "fail fast" cases 6.4.x.
#pragma once

#include <cstdint>
#include <string_view>

namespace lancet::websocket {

class Utf8Validator {
 public:
  /// Validates the next bytes. False once any byte is impossible (the validator then stays
  /// failed until reset()).
  bool feed(std::string_view bytes) noexcept;
  /// True when no code point is left unfinished (and nothing failed).
  bool complete() const noexcept { return !failed_ && need_ == 0; }
  bool failed() const noexcept { return failed_; }
  void reset() noexcept { *this = Utf8Validator{}; }

 private:
  std::uint8_t need_ = 0;    // continuation bytes still expected
  std::uint8_t lo_ = 0x80;   // allowed range of the next continuation byte
  std::uint8_t hi_ = 0xbf;
  bool failed_ = false;
};

/// True when `bytes` is complete, well-formed UTF-8.
bool is_valid_utf8(std::string_view bytes) noexcept;

}  // namespace lancet::websocket
