// bridge/mailbox.cpp (no Python in it): the backend -> app-side queue. Messages arrive whole and
// in order, across batches; and the queue does not keep a past burst's storage.
#include "bridge/mailbox.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace lancet::bridge {
namespace {

std::vector<backend::Inbound> drained(backend::ExchangeId first, std::size_t n) {
  std::vector<backend::Inbound> batch;
  for (std::size_t i = 0; i < n; ++i) batch.emplace_back(backend::Drained{first + i});
  return batch;
}

std::vector<backend::ExchangeId> ids(const std::vector<backend::Inbound>& batch) {
  std::vector<backend::ExchangeId> out;
  for (const auto& m : batch) out.push_back(std::get<backend::Drained>(m).id);
  return out;
}

TEST(Mailbox, DeliversBatchesWholeAndInOrder) {
  Mailbox box;
  auto first = drained(1, 3);
  box.post(std::move(first));
  auto second = drained(4, 2);
  box.post(std::move(second));
  std::vector<backend::Inbound> out;
  box.drain(out);
  EXPECT_EQ(ids(out), (std::vector<backend::ExchangeId>{1, 2, 3, 4, 5}));
  box.drain(out);
  EXPECT_TRUE(out.empty());
}

TEST(Mailbox, DoesNotKeepABurstsStorageForTheNextPost) {
  Mailbox box;
  std::vector<backend::Inbound> out;
  // A burst: four times what a batch keeps, handed over and drained.
  auto burst = drained(1, 4 * backend::kBatchKeep);
  box.post(std::move(burst));
  box.drain(out);
  ASSERT_EQ(out.size(), 4 * backend::kBatchKeep);
  // The next drain empties `out` and leaves its storage with the queue; the next post (to an
  // empty queue) swaps that storage back to the sender. It must not be the burst's.
  box.drain(out);
  EXPECT_TRUE(out.empty());
  auto next = drained(9, 1);
  box.post(std::move(next));
  EXPECT_LE(next.capacity(), backend::kBatchKeep);
  box.drain(out);
  EXPECT_EQ(ids(out), (std::vector<backend::ExchangeId>{9}));
}

}  // namespace
}  // namespace lancet::bridge
