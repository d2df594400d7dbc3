// See mailbox.hpp.
#include "bridge/mailbox.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <iterator>
#include <system_error>

namespace lancet::bridge {

Mailbox::Mailbox() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  queue_.reserve(64);
}

Mailbox::~Mailbox() {
  if (fd_ >= 0) ::close(fd_);
}

void Mailbox::post(std::vector<backend::Inbound>&& messages) {
  if (messages.empty()) return;
  bool was_empty = false;
  {
    std::lock_guard lock(mutex_);
    was_empty = queue_.empty();
    if (was_empty) {
      // The whole batch changes hands; the sender gets the queue's empty buffer back (it clears
      // what it posted either way), so neither side moves messages or regrows a vector.
      queue_.swap(messages);
    } else {
      queue_.insert(queue_.end(), std::make_move_iterator(messages.begin()),
                    std::make_move_iterator(messages.end()));
    }
  }
  if (was_empty && !quiet_) {
    const std::uint64_t one = 1;
    // EAGAIN means the counter is already huge: the reader will wake anyway.
    [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
  }
}

void Mailbox::drain(std::vector<backend::Inbound>& out) {
  if (!quiet_) {
    std::uint64_t count = 0;
    [[maybe_unused]] ssize_t n = ::read(fd_, &count, sizeof count);  // EAGAIN: nothing to clear
  }
  backend::reset_batch(out);  // the queue gets `out`'s storage: not a past burst's
  std::lock_guard lock(mutex_);
  out.swap(queue_);
}

}  // namespace lancet::bridge
