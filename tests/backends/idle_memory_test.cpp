// backends/common/idle_memory.hpp: when the heap's free pages are released. The release itself
// (malloc_trim) is replaced by a counter here; tests/python/test_idle_memory.py watches a real
// server's RSS fall.
#include "backends/common/idle_memory.hpp"

#include <gtest/gtest.h>

namespace lancet::backend::common {
namespace {

using namespace std::chrono_literals;

int g_releases = 0;
void count_release() noexcept { ++g_releases; }

struct IdleMemoryTest : ::testing::Test {
  void SetUp() override { g_releases = 0; }
  IdleMemory::Clock::time_point t0{IdleMemory::Clock::duration(1'000'000'000)};
};

TEST_F(IdleMemoryTest, ReleasesWhenTheLastConnectionCloses) {
  IdleMemory idle(true, &count_release);
  EXPECT_FALSE(idle.on_connection_closed(2, t0));
  EXPECT_FALSE(idle.on_connection_closed(1, t0));
  EXPECT_EQ(g_releases, 0);
  EXPECT_TRUE(idle.on_connection_closed(0, t0));
  EXPECT_EQ(g_releases, 1);
}

TEST_F(IdleMemoryTest, AtMostOncePerInterval) {
  IdleMemory idle(true, &count_release, 1s);
  EXPECT_TRUE(idle.on_connection_closed(0, t0));
  EXPECT_FALSE(idle.on_connection_closed(0, t0 + 999ms));  // a connection per request
  EXPECT_EQ(g_releases, 1);
  EXPECT_TRUE(idle.on_connection_closed(0, t0 + 1s));
  EXPECT_EQ(g_releases, 2);
}

TEST_F(IdleMemoryTest, TheFirstIdleMomentReleasesWhateverTheClockSays) {
  IdleMemory idle(true, &count_release, 1s);
  EXPECT_TRUE(idle.on_connection_closed(0, IdleMemory::Clock::time_point{}));
  EXPECT_EQ(g_releases, 1);
}

TEST_F(IdleMemoryTest, DisabledNeverReleases) {
  IdleMemory idle(false, &count_release);
  EXPECT_FALSE(idle.on_connection_closed(0, t0));
  EXPECT_FALSE(idle.on_connection_closed(0, t0 + 10s));
  EXPECT_EQ(g_releases, 0);
}

}  // namespace
}  // namespace lancet::backend::common
