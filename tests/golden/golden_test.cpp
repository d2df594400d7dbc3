// Golden traces for the HTTP/1.1 request parser (STYLE.md §11.7): every
// tests/data/http1/NNN-name.http is a raw request stream and NNN-name.trace the expected
// lancet-trace output for it (JSON lines, see protocol/http1/trace.hpp). Each stream is traced
// fed whole, one byte at a time, and cut at five fixed pseudo-random points; all three must
// give the expected trace (split invariance).
//
// A .trace records what RFC 9110/9112 say should happen, not merely what the parser did when
// it was written. tools/regen_golden.sh regenerates them on purpose (shows diffs, writes only
// with --write); review every changed trace before committing it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/http1/limits.hpp"
#include "protocol/http1/trace.hpp"

namespace {

namespace fs = std::filesystem;

// At least this many cases must exist, so an empty or half-deleted directory cannot pass.
constexpr std::size_t kMinCases = 70;
constexpr int kSplitPoints = 5;
constexpr std::uint32_t kSplitSeed = 0x1a2ce7u;
// A trace is a few milliseconds; a parser that loops would hang ctest forever (it has no
// default timeout), so a stuck case aborts its own test process with its name instead. This
// only bounds a hang: no result depends on timing.
constexpr std::chrono::seconds kHangLimit{20};

fs::path data_dir() { return fs::path(LANCET_TEST_DATA) / "http1"; }

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(data_dir(), ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".http") {
      names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// "001-get-minimal" -> "001GetMinimal": alphanumerics only, each word capitalised.
std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string out;
  bool word_start = true;
  for (char c : info.param) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum) {
      word_start = true;
      continue;
    }
    out += (word_start && c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    word_start = false;
  }
  return out;
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    lines.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::string clip(std::string_view s) {
  constexpr std::size_t kMax = 400;
  if (s.size() <= kMax) return std::string(s);
  return std::string(s.substr(0, kMax)) + "... (" + std::to_string(s.size()) + " bytes)";
}

// Line-by-line comparison with a short message (a head at the 16 KiB limit is one long line).
testing::AssertionResult same_trace(const std::string& expected, const std::string& actual) {
  if (expected == actual) return testing::AssertionSuccess();
  const auto want = lines_of(expected);
  const auto got = lines_of(actual);
  std::size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  auto result = testing::AssertionFailure();
  result << "traces differ at line " << (i + 1) << " (expected " << want.size() << " lines, got "
         << got.size() << ")\n  expected: " << (i < want.size() ? clip(want[i]) : "<end>")
         << "\n  actual:   " << (i < got.size() ? clip(got[i]) : "<end>");
  if (expected + "\n" == actual || expected == actual + "\n") {
    result << "\n  (only a final newline differs)";
  }
  result << "\n  full actual trace:\n" << clip(actual);
  return result;
}

std::string trace(std::string_view input, std::span<const std::size_t> cuts) {
  lancet::http1::Options options;
  options.date_header = false;  // as lancet-trace: reproducible, no clock
  std::vector<std::string_view> pieces;
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    pieces.push_back(input.substr(at, cut - at));
    at = cut;
  }
  pieces.push_back(input.substr(at));
  return lancet::http1::trace_request_stream(options, pieces);
}

// Five cut points in [0, size], from a seed fixed per case: the same on every run and
// platform (raw mt19937 output is specified; std::uniform_int_distribution is not).
std::vector<std::size_t> split_points(const std::string& name, std::size_t size) {
  std::uint32_t seed = kSplitSeed;
  for (char c : name) seed = (seed ^ static_cast<unsigned char>(c)) * 16777619u;  // FNV-1a
  std::mt19937 rng(seed);
  std::vector<std::size_t> cuts;
  for (int i = 0; i < kSplitPoints; ++i) cuts.push_back(rng() % (size + 1));
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

// Aborts the process (naming the case) if the guarded scope runs longer than kHangLimit.
class HangGuard {
 public:
  explicit HangGuard(std::string what) : what_(std::move(what)), thread_([this] { watch(); }) {}
  ~HangGuard() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  HangGuard(const HangGuard&) = delete;
  HangGuard& operator=(const HangGuard&) = delete;

 private:
  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!cv_.wait_for(lock, kHangLimit, [this] { return done_; })) {
      std::fprintf(stderr, "golden_test: %s did not finish within %lld s: the parser loops\n",
                   what_.c_str(), static_cast<long long>(kHangLimit.count()));
      std::fflush(stderr);
      std::abort();
    }
  }
  std::string what_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

class Http1GoldenTrace : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const fs::path base = data_dir() / GetParam();
    input_ = read_file(fs::path(base).replace_extension(".http"));
    const fs::path trace_path = fs::path(base).replace_extension(".trace");
    ASSERT_TRUE(fs::exists(trace_path))
        << trace_path << " is missing; write it (tools/regen_golden.sh shows the tool's output)";
    expected_ = read_file(trace_path);
    ASSERT_FALSE(expected_.empty()) << trace_path << " is empty";
  }
  std::string input_;
  std::string expected_;
};

TEST_P(Http1GoldenTrace, FedWhole) {
  HangGuard guard(GetParam() + " (whole)");
  EXPECT_TRUE(same_trace(expected_, trace(input_, {})));
}

TEST_P(Http1GoldenTrace, FedOneByteAtATime) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < input_.size(); ++i) cuts.push_back(i);
  HangGuard guard(GetParam() + " (byte by byte)");
  EXPECT_TRUE(same_trace(expected_, trace(input_, cuts)));
}

TEST_P(Http1GoldenTrace, FedAtFixedRandomSplits) {
  const auto cuts = split_points(GetParam(), input_.size());
  std::ostringstream where;
  for (std::size_t c : cuts) where << ' ' << c;
  HangGuard guard(GetParam() + " (split at" + where.str() + ")");
  EXPECT_TRUE(same_trace(expected_, trace(input_, cuts))) << "split at" << where.str();
}

INSTANTIATE_TEST_SUITE_P(Http1Data, Http1GoldenTrace, testing::ValuesIn(case_names()), test_name);

TEST(Http1GoldenData, HasAtLeastSeventyCasesEachWithATrace) {
  const auto names = case_names();
  EXPECT_GE(names.size(), kMinCases) << "in " << data_dir();
  for (const auto& name : names) {
    EXPECT_TRUE(fs::exists(data_dir() / (name + ".trace"))) << name << ".trace is missing";
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(data_dir(), ec)) {
    if (entry.path().extension() == ".trace") {
      EXPECT_TRUE(fs::exists(fs::path(entry.path()).replace_extension(".http")))
          << entry.path() << " has no .http input";
    }
  }
}

TEST(Http1GoldenData, TestNamesAreUnique) {
  std::vector<std::string> seen;
  for (const auto& name : case_names()) {
    seen.push_back(test_name(testing::TestParamInfo<std::string>(name, 0)));
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
}

}  // namespace
