// Incremental UTF-8 validation. See utf8.hpp. Table 3-7 of the Unicode standard, as a tiny
// state machine: a lead byte sets how many continuation bytes follow and the allowed range of
// the first one (which is what rules out overlongs, surrogates and > U+10FFFF).
#include "protocol/websocket/utf8.hpp"

namespace lancet::websocket {

bool Utf8Validator::feed(std::string_view bytes) noexcept {
  if (failed_) return false;
  for (const char ch : bytes) {
    const auto c = static_cast<std::uint8_t>(ch);
    if (need_ > 0) {
      if (c < lo_ || c > hi_) return !(failed_ = true);
      --need_;
      lo_ = 0x80;
      hi_ = 0xbf;
      continue;
    }
    if (c < 0x80) continue;
    if (c >= 0xc2 && c <= 0xdf) {
      need_ = 1;
    } else if (c == 0xe0) {
      need_ = 2;
      lo_ = 0xa0;
    } else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
      need_ = 2;
    } else if (c == 0xed) {
      need_ = 2;
      hi_ = 0x9f;  // no surrogates
    } else if (c == 0xf0) {
      need_ = 3;
      lo_ = 0x90;
    } else if (c >= 0xf1 && c <= 0xf3) {
      need_ = 3;
    } else if (c == 0xf4) {
      need_ = 3;
      hi_ = 0x8f;  // nothing above U+10FFFF
    } else {
      return !(failed_ = true);  // 0x80-0xc1 as a lead, 0xf5-0xff
    }
  }
  return true;
}

bool is_valid_utf8(std::string_view bytes) noexcept {
  Utf8Validator v;
  return v.feed(bytes) && v.complete();
}

}  // namespace lancet::websocket
