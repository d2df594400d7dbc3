// permessage-deflate compression and decompression of message payloads (RFC 7692 §7.2) on zlib.
//
// Layer: protocol/websocket. zlib.h stays in deflate.cpp. Not thread-safe.
//
// Theory of operation
//   Sending (§7.2.1): each fragment of a message is deflated with Z_SYNC_FLUSH, so every
//   fragment can be written at once; on the message's last fragment the 0x00 0x00 0xff 0xff
//   tail the flush leaves is removed (an empty result becomes the single byte 0x00, §7.2.3.6).
//   With server_no_context_takeover the stream is reset after each message.
//   Receiving (§7.2.2): the payload bytes of a message are inflated as they arrive, the tail is
//   appended at the message's end, and with client_no_context_takeover the stream is reset
//   after each message. The decompressed size is checked against a limit before every append
//   and output is produced 16 KiB at a time, so a zip bomb costs at most limit + 16 KiB of
//   memory and ends in ws_message_too_big (1009). A block with BFINAL set ends the zlib stream:
//   nothing but the message's end may follow it, and the next message starts a fresh stream.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/core/result.hpp"
#include "protocol/websocket/extensions.hpp"

namespace lancet::websocket {

/// Compresses outgoing messages. Constructing cannot fail; zlib is set up on first use.
class MessageDeflater {
 public:
  explicit MessageDeflater(const DeflateParams& params);
  ~MessageDeflater();
  MessageDeflater(MessageDeflater&&) noexcept;
  MessageDeflater& operator=(MessageDeflater&&) noexcept;

  /// Appends the compressed form of one fragment to `out`; `fin` ends the message. Errors:
  /// ws_invalid_send (local) if zlib cannot be set up (out of memory).
  Result<void> compress(std::string_view in, bool fin, std::string& out);

 private:
  struct Stream;
  std::unique_ptr<Stream> s_;
  DeflateParams params_;
};

/// Decompresses incoming messages under a size limit.
class MessageInflater {
 public:
  explicit MessageInflater(const DeflateParams& params);
  ~MessageInflater();
  MessageInflater(MessageInflater&&) noexcept;
  MessageInflater& operator=(MessageInflater&&) noexcept;

  /// Inflates `in` (compressed payload bytes of the current message) and appends the result to
  /// `out`, which never grows past `limit` bytes. Errors: ws_message_too_big (1009) when the
  /// output would pass `limit`; ws_invalid_compressed_data (1007) for bad deflate data.
  Result<void> inflate(std::string_view in, std::size_t limit, std::string& out);
  /// Ends the current message: inflates the implicit tail, then resets the stream when the
  /// client has no context takeover. Same errors as inflate().
  Result<void> finish_message(std::size_t limit, std::string& out);

 private:
  struct Stream;
  std::unique_ptr<Stream> s_;
  DeflateParams params_;
};

}  // namespace lancet::websocket
