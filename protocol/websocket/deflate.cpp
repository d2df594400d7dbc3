// permessage-deflate on zlib. See deflate.hpp.
#include "protocol/websocket/deflate.hpp"

#include <zlib.h>

#include <array>

#include "protocol/websocket/frame.hpp"

namespace lancet::websocket {
namespace {

constexpr std::size_t kChunk = 16 * 1024;
constexpr std::string_view kTail("\x00\x00\xff\xff", 4);  // RFC 7692 §7.2.1

Bytef* in_ptr(std::string_view in) {
  // zlib's next_in is not const-qualified but is never written through.
  return reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
}

}  // namespace

// ---- compression -----------------------------------------------------------------------------

struct MessageDeflater::Stream {
  z_stream z{};
  bool ready = false;
  ~Stream() {
    if (ready) deflateEnd(&z);
  }
};

MessageDeflater::MessageDeflater(const DeflateParams& params)
    : s_(std::make_unique<Stream>()), params_(params) {}
MessageDeflater::~MessageDeflater() = default;
MessageDeflater::MessageDeflater(MessageDeflater&&) noexcept = default;
MessageDeflater& MessageDeflater::operator=(MessageDeflater&&) noexcept = default;

Result<void> MessageDeflater::compress(std::string_view in, bool fin, std::string& out) {
  z_stream& z = s_->z;
  if (!s_->ready) {
    // Negative window bits: raw deflate, no zlib header or trailer (§7.2.1).
    if (deflateInit2(&z, params_.compression_level, Z_DEFLATED, -params_.server_max_window_bits,
                     8, Z_DEFAULT_STRATEGY) != Z_OK) {
      return unexpected(make_local_error(Errc::ws_invalid_send, "zlib deflateInit2 failed"));
    }
    s_->ready = true;
  }
  const std::size_t start = out.size();
  z.next_in = in_ptr(in);
  z.avail_in = static_cast<uInt>(in.size());
  std::array<char, kChunk> buf;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf.data());
    z.avail_out = static_cast<uInt>(buf.size());
    const int rc = deflate(&z, Z_SYNC_FLUSH);  // Z_BUF_ERROR: nothing left to flush
    LANCET_ASSERT(rc == Z_OK || rc == Z_BUF_ERROR, "deflate cannot fail on valid state");
    (void)rc;
    out.append(buf.data(), buf.size() - z.avail_out);
  } while (z.avail_out == 0);
  if (!fin) return ok();
  std::string_view produced = std::string_view(out).substr(start);
  if (produced.size() >= 4 && produced.substr(produced.size() - 4) == kTail) out.resize(out.size() - 4);
  if (out.size() == start) out += '\0';  // §7.2.3.6: an empty deflate block
  if (params_.server_no_context_takeover) deflateReset(&z);
  return ok();
}

// ---- decompression ---------------------------------------------------------------------------

struct MessageInflater::Stream {
  z_stream z{};
  bool ready = false;
  bool ended = false;  // a BFINAL block ended the stream inside the current message
  bool fed = false;    // the current message had compressed bytes
  ~Stream() {
    if (ready) inflateEnd(&z);
  }
};

MessageInflater::MessageInflater(const DeflateParams& params)
    : s_(std::make_unique<Stream>()), params_(params) {}
MessageInflater::~MessageInflater() = default;
MessageInflater::MessageInflater(MessageInflater&&) noexcept = default;
MessageInflater& MessageInflater::operator=(MessageInflater&&) noexcept = default;

Result<void> MessageInflater::inflate(std::string_view in, std::size_t limit, std::string& out) {
  z_stream& z = s_->z;
  if (!s_->ready) {
    // Always a 15-bit window: it inflates data made with any smaller window.
    if (inflateInit2(&z, -15) != Z_OK) {
      return unexpected(make_ws_error(Errc::ws_invalid_compressed_data, "zlib inflateInit2 failed"));
    }
    s_->ready = true;
  }
  if (s_->ended) {
    if (in.empty()) return ok();
    return unexpected(make_ws_error(Errc::ws_invalid_compressed_data, "data after final block"));
  }
  s_->fed = s_->fed || !in.empty();
  z.next_in = in_ptr(in);
  z.avail_in = static_cast<uInt>(in.size());
  std::array<char, kChunk> buf;
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf.data());
    z.avail_out = static_cast<uInt>(buf.size());
    const int rc = ::inflate(&z, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      return unexpected(make_ws_error(Errc::ws_invalid_compressed_data, "invalid deflate data"));
    }
    const std::size_t produced = buf.size() - z.avail_out;
    if (produced > limit - out.size()) {
      return unexpected(make_ws_error(Errc::ws_message_too_big, "message too big"));
    }
    out.append(buf.data(), produced);
    if (rc == Z_STREAM_END) {
      // BFINAL: the sender ended its stream; only the message's end may follow.
      s_->ended = true;
      if (z.avail_in == 0) return ok();
      return unexpected(make_ws_error(Errc::ws_invalid_compressed_data, "data after final block"));
    }
    if (z.avail_out != 0 || rc == Z_BUF_ERROR) {
      if (z.avail_in == 0 || rc == Z_BUF_ERROR) return ok();
    }
  }
}

Result<void> MessageInflater::finish_message(std::size_t limit, std::string& out) {
  if (s_->ended) {  // the stream already ended: no tail, and a fresh stream for the next one
    s_->ended = false;
    s_->fed = false;
    inflateReset(&s_->z);
    return ok();
  }
  // An empty payload is not valid deflate data (§7.2.3.6 sends 0x00 for an empty message), but
  // appending the tail to nothing would leave a half-read stored block in a kept context:
  // accept it as the empty message it stands for.
  if (s_->fed) LANCET_TRY(inflate(kTail, limit, out));
  s_->fed = false;
  if (params_.client_no_context_takeover && s_->ready) inflateReset(&s_->z);
  return ok();
}

}  // namespace lancet::websocket
