// IMF-fixdate formatting (RFC 9110 §5.6.7).
#include <gtest/gtest.h>

#include "protocol/http1/date.hpp"

namespace lancet::http1 {
namespace {

TEST(Http1Date, FormatsTheRfcExample) {
  EXPECT_EQ(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(Http1Date, FormatsEpochLeapDayAndEndOfYear) {
  EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(format_http_date(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(format_http_date(1798761599), "Thu, 31 Dec 2026 23:59:59 GMT");
}

}  // namespace
}  // namespace lancet::http1
