// Sec-WebSocket-Extensions parsing (RFC 6455 §9.1) and permessage-deflate negotiation
// (RFC 7692 §7.1).
//
// Layer: protocol/websocket. Pure functions of header values. A malformed extension header or
// a malformed permessage-deflate offer is not a handshake failure: the server simply does not
// accept that offer (RFC 7692 §7.1: "a server MUST decline an extension negotiation offer" it
// finds invalid), and the connection runs without compression.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lancet::websocket {

/// One `name[=value]` parameter of an offer; quoted-string values are unquoted.
struct ExtensionParam {
  std::string name;
  std::optional<std::string> value;
};

/// One offered extension with its parameters, in the order the client sent them.
struct ExtensionOffer {
  std::string name;
  std::vector<ExtensionParam> params;
};

/// Parses a Sec-WebSocket-Extensions value (several field lines joined with ", "). Empty list
/// elements are skipped (RFC 9110 §5.6.1). nullopt when the value does not match §9.1's grammar.
std::optional<std::vector<ExtensionOffer>> parse_extensions(std::string_view value);

/// What the server is willing to do for permessage-deflate (the server's configuration).
struct DeflateConfig {
  bool enabled = false;
  /// Always ask for these, even when the client did not offer them (RFC 7692 §7.1.1.1/2 let
  /// the server add them). Without context takeover each message costs a fresh dictionary
  /// (worse ratio) but no memory is held between messages.
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  /// Our compressor's window, 9..15: zlib's raw deflate cannot produce an 8-bit window, so an
  /// offer demanding server_max_window_bits=8 is declined.
  std::uint8_t server_max_window_bits = 15;
  /// The limit asked of the client's compressor when it offers client_max_window_bits, 8..15.
  /// Our decompressor always uses a 15-bit window, which inflates any smaller one.
  std::uint8_t client_max_window_bits = 15;
  int compression_level = 6;  ///< zlib level 1..9 (websockets uses 6)
};

/// The parameters in force once an offer is accepted.
struct DeflateParams {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::uint8_t server_max_window_bits = 15;
  std::uint8_t client_max_window_bits = 15;
  int compression_level = 6;
};

/// An accepted offer: the parameters and the Sec-WebSocket-Extensions response value.
struct DeflateAgreement {
  DeflateParams params;
  std::string response;  ///< e.g. "permessage-deflate; server_no_context_takeover"
};

/// Accepts the first acceptable permessage-deflate offer of `offers`, or nullopt (none offered,
/// all malformed: unknown or repeated parameters, values outside 8..15 or with leading zeros,
/// a value on a no_context_takeover parameter; or config.enabled is false).
std::optional<DeflateAgreement> negotiate_deflate(const std::vector<ExtensionOffer>& offers,
                                                  const DeflateConfig& config);

}  // namespace lancet::websocket
