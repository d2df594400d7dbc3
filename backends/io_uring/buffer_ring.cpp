// The provided-buffer ring. See buffer_ring.hpp for the theory of operation.
#include "backends/io_uring/buffer_ring.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

namespace lancet::backend::io_uring {

int BufferRing::setup(::io_uring& ring, unsigned count, unsigned size,
                      std::uint16_t group) noexcept {
  if (ring_ != nullptr) return -EBUSY;
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0 || size == 0) return -EINVAL;
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t ring_bytes = (count * sizeof(io_uring_buf) + page - 1) / page * page;
  const std::size_t bytes = ring_bytes + std::size_t{count} * size;
  void* map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return -errno;
  auto* br = static_cast<io_uring_buf_ring*>(map);
  io_uring_buf_ring_init(br);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(br);
  reg.ring_entries = count;
  reg.bgid = group;
  const int rc = io_uring_register_buf_ring(&ring, &reg, 0);
  if (rc < 0) {
    munmap(map, bytes);
    return rc;
  }
  ring_ = br;
  map_ = map;
  map_bytes_ = bytes;
  buffers_ = static_cast<char*>(map) + ring_bytes;
  count_ = count;
  size_ = size;
  group_ = group;
  const int mask = io_uring_buf_ring_mask(count);
  for (unsigned id = 0; id < count; ++id) {
    io_uring_buf_ring_add(ring_, buffer(static_cast<std::uint16_t>(id)), size,
                          static_cast<unsigned short>(id), mask, static_cast<int>(id));
  }
  io_uring_buf_ring_advance(ring_, static_cast<int>(count));
  return 0;
}

void BufferRing::teardown() noexcept {
  if (map_ != nullptr) munmap(map_, map_bytes_);
  ring_ = nullptr;
  map_ = nullptr;
  map_bytes_ = 0;
  buffers_ = nullptr;
  recycled_ = 0;
}

std::string_view BufferRing::bytes(std::uint16_t id, std::size_t n) const noexcept {
  if (ring_ == nullptr || id >= count_) return {};
  return {buffer(id), n < size_ ? n : size_};
}

void BufferRing::recycle(std::uint16_t id) noexcept {
  if (ring_ == nullptr || id >= count_) return;
  io_uring_buf_ring_add(ring_, buffer(id), size_, id, io_uring_buf_ring_mask(count_), recycled_);
  ++recycled_;
}

void BufferRing::publish() noexcept {
  if (recycled_ == 0) return;
  io_uring_buf_ring_advance(ring_, recycled_);
  recycled_ = 0;
}

}  // namespace lancet::backend::io_uring
