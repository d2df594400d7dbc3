// RFC 9110 field syntax checks shared by the request parser, the response serialiser and the
// ASGI event validation. Pure functions of bytes.
//
// Layer: protocol/http1.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace lancet::http1 {

// The checks below run on every field of every request and response: inline, one table lookup
// per byte, and iequals rejects on the length before it is called (most comparisons are of a
// field name against names of other lengths).
namespace detail {

enum : std::uint8_t { kTcharBit = 1, kFieldValueBit = 2 };

constexpr std::array<std::uint8_t, 256> make_char_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool tchar = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                           std::string_view::npos;
    const bool field_value = !((c < 0x20 && c != '\t') || c == 0x7f);
    t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>((tchar ? kTcharBit : 0) |
                                                               (field_value ? kFieldValueBit : 0));
  }
  return t;
}
inline constexpr std::array<std::uint8_t, 256> kCharClasses = make_char_classes();

inline bool all_in_class(std::string_view s, std::uint8_t bit) noexcept {
  for (char c : s) {
    if ((kCharClasses[static_cast<unsigned char>(c)] & bit) == 0) return false;
  }
  return true;
}

bool iequals_same_size(const char* a, const char* b, std::size_t n) noexcept;

}  // namespace detail

/// RFC 9110 §5.6.2 tchar: "!#$%&'*+-.^_`|~", DIGIT, ALPHA.
inline bool is_tchar(unsigned char c) noexcept {
  return (detail::kCharClasses[c] & detail::kTcharBit) != 0;
}

/// A non-empty token (methods, field names).
inline bool is_token(std::string_view s) noexcept {
  return !s.empty() && detail::all_in_class(s, detail::kTcharBit);
}

/// RFC 9110 §5.5 field-value: no NUL, CR, LF or other control characters except HTAB; obs-text
/// (0x80-0xFF) is allowed. Empty is allowed.
inline bool is_field_value(std::string_view s) noexcept {
  return detail::all_in_class(s, detail::kFieldValueBit);
}

/// Case-insensitive ASCII comparison (field names, tokens).
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && detail::iequals_same_size(a.data(), b.data(), a.size());
}

/// RFC 9110 §8.6: 1*DIGIT with no sign, space or other character; nullopt on overflow.
std::optional<std::uint64_t> parse_content_length(std::string_view s) noexcept;

/// Strip leading and trailing SP / HTAB (OWS).
std::string_view trim_ows(std::string_view s) noexcept;

/// True when the comma-separated list `value` holds `token` (case-insensitive), e.g.
/// Connection: "keep-alive, Upgrade" has "upgrade".
bool list_has_token(std::string_view value, std::string_view token) noexcept;

}  // namespace lancet::http1
