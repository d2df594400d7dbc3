// IMF-fixdate formatting for the Date header (RFC 9110 §5.6.7). The time comes in as a value:
// the core reads no clock.
//
// Layer: protocol/http1.
#pragma once

#include <cstdint>
#include <string>

namespace lancet::http1 {

/// "Sun, 06 Nov 1994 08:49:37 GMT" for `unix_seconds` (seconds since 1970-01-01T00:00:00Z).
std::string format_http_date(std::int64_t unix_seconds);

}  // namespace lancet::http1
