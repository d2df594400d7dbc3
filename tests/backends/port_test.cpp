// backends/port.hpp's batch helper: an emptied batch of Inbound messages keeps storage for at
// most kBatchKeep messages, so a burst's vectors do not stay resident after it.
#include "backends/port.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace lancet::backend {
namespace {

std::vector<Inbound> batch_of(std::size_t n) {
  std::vector<Inbound> batch;
  batch.reserve(n);
  for (std::size_t i = 0; i < n; ++i) batch.emplace_back(Drained{i + 1});
  return batch;
}

TEST(ResetBatch, KeepsTheStorageOfABatchUpToTheLimit) {
  std::vector<Inbound> batch = batch_of(kBatchKeep);
  ASSERT_EQ(batch.capacity(), kBatchKeep);
  const Inbound* storage = batch.data();
  reset_batch(batch);
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(batch.capacity(), kBatchKeep);
  EXPECT_EQ(batch.data(), storage);  // reused: no allocation for the next batch
}

TEST(ResetBatch, GivesBackTheStorageOfABatchOneOverTheLimit) {
  std::vector<Inbound> batch = batch_of(kBatchKeep + 1);
  ASSERT_GT(batch.capacity(), kBatchKeep);
  reset_batch(batch);
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(batch.capacity(), 0u);
}

TEST(ResetBatch, AnEmptiedBatchStillTakesMessages) {
  std::vector<Inbound> batch = batch_of(4 * kBatchKeep);
  reset_batch(batch);
  batch.emplace_back(ClientGone{7});
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(std::get<ClientGone>(batch[0]).id, 7u);
}

}  // namespace
}  // namespace lancet::backend
