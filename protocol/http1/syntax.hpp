// RFC 9110 field syntax checks shared by the request parser, the response serialiser and the
// ASGI event validation. Pure functions of bytes.
//
// Layer: protocol/http1.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace lancet::http1 {

/// RFC 9110 §5.6.2 tchar: "!#$%&'*+-.^_`|~", DIGIT, ALPHA.
bool is_tchar(unsigned char c) noexcept;

/// A non-empty token (methods, field names).
bool is_token(std::string_view s) noexcept;

/// RFC 9110 §5.5 field-value: no NUL, CR, LF or other control characters except HTAB; obs-text
/// (0x80-0xFF) is allowed. Empty is allowed.
bool is_field_value(std::string_view s) noexcept;

/// Case-insensitive ASCII comparison (field names, tokens).
bool iequals(std::string_view a, std::string_view b) noexcept;

/// RFC 9110 §8.6: 1*DIGIT with no sign, space or other character; nullopt on overflow.
std::optional<std::uint64_t> parse_content_length(std::string_view s) noexcept;

/// Strip leading and trailing SP / HTAB (OWS).
std::string_view trim_ows(std::string_view s) noexcept;

/// True when the comma-separated list `value` holds `token` (case-insensitive), e.g.
/// Connection: "keep-alive, Upgrade" has "upgrade".
bool list_has_token(std::string_view value, std::string_view token) noexcept;

}  // namespace lancet::http1
