// lancet-trace: reads a raw HTTP/1.1 request stream on stdin and prints the events the
// server's protocol core sees, one JSON object per line, ending with the error (code, status
// hint, reason) and the response the server would send for it, if any.
//
//   printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' | lancet-trace
//   lancet-trace --split 1 < request.http       # feed one byte at a time (same trace)
//   lancet-trace --max-head-bytes 1024 < request.http
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/http1/trace.hpp"

namespace {

constexpr const char* kUsage =
    "usage: lancet-trace [--split N] [--max-head-bytes N] [--max-header-count N]\n"
    "                    [--max-target-bytes N] [--max-body-bytes N] < request-stream\n"
    "Prints the HTTP/1.1 events Lancet's protocol core parses from stdin, one JSON per line.\n"
    "  --split N             feed the input N bytes at a time (default: all at once)\n"
    "  --max-head-bytes N    request head limit (default 16384; over it: 431)\n"
    "  --max-header-count N  header field limit (default 100; over it: 431)\n"
    "  --max-target-bytes N  request-target limit (default 8192; over it: 414)\n"
    "  --max-body-bytes N    request body limit (default 1073741824; over it: 413)\n";

bool parse_size(const char* s, unsigned long long& out) {
  char* end = nullptr;
  out = std::strtoull(s, &end, 10);
  return end != s && *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  lancet::http1::Options options;
  options.date_header = false;  // traces are reproducible: no clock
  unsigned long long split = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    unsigned long long value = 0;
    if (i + 1 >= argc || !parse_size(argv[i + 1], value)) {
      std::fprintf(stderr, "lancet-trace: %s needs a number\n%s", argv[i], kUsage);
      return 2;
    }
    ++i;
    if (arg == "--split") {
      split = value;
    } else if (arg == "--max-head-bytes") {
      options.limits.max_head_bytes = value;
    } else if (arg == "--max-header-count") {
      options.limits.max_header_count = value;
    } else if (arg == "--max-target-bytes") {
      options.limits.max_target_bytes = value;
    } else if (arg == "--max-body-bytes") {
      options.limits.max_body_bytes = value;
    } else {
      std::fprintf(stderr, "lancet-trace: unknown option %s\n%s", argv[i - 1], kUsage);
      return 2;
    }
  }
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  std::vector<std::string_view> pieces;
  std::string_view all(input);
  if (split == 0) split = all.empty() ? 1 : all.size();
  for (std::size_t at = 0; at < all.size(); at += split) pieces.push_back(all.substr(at, split));
  std::fputs(lancet::http1::trace_request_stream(options, pieces).c_str(), stdout);
  return 0;
}
