// The io_uring backend's provided-buffer ring (backends/io_uring/buffer_ring.hpp) against the
// real kernel: a multishot recv on a socketpair, buffer ids, -ENOBUFS when the ring is empty
// (the bytes stay in the socket), recycling, and cancellation ending the recv. No timing: every
// wait is for a completion the test caused.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "backends/io_uring/buffer_ring.hpp"

namespace {

using lancet::backend::io_uring::BufferRing;

struct Completion {
  int res = 0;
  std::uint32_t flags = 0;
  std::uint64_t user_data = 0;
  bool more() const { return (flags & IORING_CQE_F_MORE) != 0; }
  bool has_buffer() const { return (flags & IORING_CQE_F_BUFFER) != 0; }
  std::uint16_t buffer_id() const {
    return static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
  }
};

class RingFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(io_uring_queue_init(32, &ring_, 0), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0);
  }
  void TearDown() override {
    io_uring_queue_exit(&ring_);
    buffers_.teardown();
    close(fds_[0]);
    close(fds_[1]);
  }

  void arm_multishot_recv(std::uint64_t user_data = 1) {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    io_uring_prep_recv_multishot(s, fds_[0], nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = buffers_.group();
    io_uring_sqe_set_data64(s, user_data);
    ASSERT_EQ(io_uring_submit(&ring_), 1);
  }

  void write_peer(const std::string& bytes) {
    ASSERT_EQ(write(fds_[1], bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }

  Completion wait() {
    io_uring_cqe* cqe = nullptr;
    EXPECT_EQ(io_uring_wait_cqe(&ring_, &cqe), 0);
    Completion c{cqe->res, cqe->flags, cqe->user_data};
    io_uring_cqe_seen(&ring_, cqe);
    return c;
  }

  ::io_uring ring_{};
  BufferRing buffers_;
  int fds_[2] = {-1, -1};
};

TEST_F(RingFixture, SetupRejectsACountThatIsNotAPowerOfTwo) {
  EXPECT_EQ(buffers_.setup(ring_, 3, 64), -EINVAL);
  EXPECT_FALSE(buffers_.ready());
}

TEST_F(RingFixture, MultishotRecvFillsBuffersAndStaysArmed) {
  ASSERT_EQ(buffers_.setup(ring_, 4, 64), 0);
  ASSERT_TRUE(buffers_.ready());
  arm_multishot_recv();
  write_peer("hello");
  Completion c = wait();
  ASSERT_EQ(c.res, 5);
  EXPECT_TRUE(c.more());
  ASSERT_TRUE(c.has_buffer());
  EXPECT_EQ(buffers_.bytes(c.buffer_id(), 5), "hello");
  buffers_.recycle(c.buffer_id());
  buffers_.publish();
  write_peer("world");
  c = wait();
  ASSERT_EQ(c.res, 5);
  EXPECT_TRUE(c.more());
  EXPECT_EQ(buffers_.bytes(c.buffer_id(), 5), "world");
}

TEST_F(RingFixture, ABufferHoldsAtMostItsSizeAndTheRestComesInTheNext) {
  ASSERT_EQ(buffers_.setup(ring_, 4, 64), 0);
  arm_multishot_recv();
  std::string sent(100, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>('a' + i % 26);
  write_peer(sent);
  std::string got;
  while (got.size() < sent.size()) {
    const Completion c = wait();
    ASSERT_GT(c.res, 0);
    ASSERT_LE(c.res, 64);
    got += buffers_.bytes(c.buffer_id(), static_cast<std::size_t>(c.res));
  }
  EXPECT_EQ(got, sent);
}

TEST_F(RingFixture, AnEmptyRingEndsTheRecvWithENOBUFSAndKeepsTheBytesInTheSocket) {
  ASSERT_EQ(buffers_.setup(ring_, 2, 16), 0);
  arm_multishot_recv();
  std::string sent(64, 'x');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>('A' + i % 26);
  write_peer(sent);
  std::string got;
  std::vector<std::uint16_t> held;
  for (;;) {  // never recycled: the ring runs dry after two buffers
    const Completion c = wait();
    if (c.res == -ENOBUFS) {
      EXPECT_FALSE(c.more());  // the multishot recv has ended
      EXPECT_FALSE(c.has_buffer());
      break;
    }
    ASSERT_GT(c.res, 0);
    ASSERT_TRUE(c.more());
    got += buffers_.bytes(c.buffer_id(), static_cast<std::size_t>(c.res));
    held.push_back(c.buffer_id());
  }
  EXPECT_EQ(held.size(), 2u);
  for (std::uint16_t id : held) buffers_.recycle(id);
  buffers_.publish();
  arm_multishot_recv();  // re-armed once buffers are back: nothing was lost
  while (got.size() < sent.size()) {
    const Completion c = wait();
    ASSERT_GT(c.res, 0) << std::strerror(-c.res);
    got += buffers_.bytes(c.buffer_id(), static_cast<std::size_t>(c.res));
    buffers_.recycle(c.buffer_id());
    buffers_.publish();
  }
  EXPECT_EQ(got, sent);
}

TEST_F(RingFixture, CancelEndsTheMultishotRecvWithAFinalCompletion) {
  ASSERT_EQ(buffers_.setup(ring_, 4, 64), 0);
  arm_multishot_recv(7);
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  io_uring_prep_cancel64(s, 7, 0);
  io_uring_sqe_set_data64(s, 8);
  ASSERT_EQ(io_uring_submit(&ring_), 1);
  bool recv_ended = false;
  bool cancel_done = false;
  while (!recv_ended || !cancel_done) {
    const Completion c = wait();
    if (c.user_data == 8) {
      EXPECT_EQ(c.res, 0);
      cancel_done = true;
    } else {
      EXPECT_EQ(c.res, -ECANCELED);
      EXPECT_FALSE(c.more());
      recv_ended = true;
    }
  }
  write_peer("after");  // no recv armed: the bytes wait in the socket
  char buf[8];
  EXPECT_EQ(read(fds_[0], buf, sizeof buf), 5);
}

TEST_F(RingFixture, EndOfFileIsAZeroResultWithoutMore) {
  ASSERT_EQ(buffers_.setup(ring_, 4, 64), 0);
  arm_multishot_recv();
  shutdown(fds_[1], SHUT_WR);
  const Completion c = wait();
  EXPECT_EQ(c.res, 0);
  EXPECT_FALSE(c.more());
  if (c.has_buffer()) buffers_.recycle(c.buffer_id());  // returned in any case
}

}  // namespace
