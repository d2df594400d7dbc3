// RequestParser: the llhttp adapter. Turns request bytes into one step at a time and closes
// the gaps llhttp 8.1.0 leaves (see TOOLCHAIN.md §1): bare CR, bare LF, obs-fold, NUL, empty
// header names, HTTP versions other than 1.0/1.1, repeated or missing Host, transfer codings,
// and the limits.
//
// Layer: protocol/http1 (internal to ServerConnection; exposed for tests and fuzzing).
//
// Theory of operation
//   llhttp runs in strict mode with callbacks that append span fragments into per-message
//   storage. It is paused (HPE_PAUSED from a callback) at every point where the connection
//   has an event to hand out: after the head, after each body span, at message end; and
//   silently at the last chunk, to start scanning trailers. So every execute() consumes
//   exactly the bytes of one step, and a Data step is a view into the caller's input.
//   While the head (or the trailer section) is being read, execute() feeds llhttp at most the
//   bytes left under Limits::max_head_bytes, then scans exactly the bytes llhttp consumed for
//   the shapes llhttp accepts but RFC 9112 forbids. One byte over the limit is an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <llhttp.h>

#include "protocol/core/error.hpp"
#include "protocol/http1/limits.hpp"
#include "protocol/http1/message.hpp"

namespace lancet::http1 {

class RequestParser {
 public:
  enum class StepKind : std::uint8_t {
    need_data,         ///< everything given was consumed; no event yet
    head,              ///< the request head is complete: head() is valid
    data,              ///< a body span: Step::data views into the input
    message_complete,  ///< the request is complete: trailers() is valid
    error,             ///< error() says what; sticky
  };
  struct Step {
    StepKind kind = StepKind::need_data;
    std::size_t consumed = 0;  ///< bytes of the input this step used
    std::string_view data;     ///< for StepKind::data
  };

  RequestParser(const Limits& limits, const Leniency& lenient);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  /// Parses from the start of `input` (bytes not yet consumed) up to the next step. After
  /// message_complete, call start_next_message() before parsing more. Errors: every remote
  /// http1 Errc.
  Step execute(std::string_view input);
  /// The peer closed: completes nothing, but a partial message becomes incomplete_request.
  Step finish();
  /// Resets per-message storage and resumes llhttp after message_complete.
  void start_next_message();

  /// True when no byte of the current message has been consumed yet.
  bool at_message_start() const noexcept { return phase_ == Phase::head && head_fed_ == 0; }
  /// Valid after a head step until start_next_message().
  const RequestHead& head() const noexcept { return head_; }
  /// Valid after message_complete until start_next_message().
  std::span<const Header> trailers() const noexcept { return trailers_; }
  const Error& error() const noexcept { return error_; }

  // llhttp callbacks (static trampolines call these; they return llhttp errnos)
  int on_message_begin() noexcept;
  int on_method(std::string_view s) noexcept;
  int on_url(std::string_view s) noexcept;
  int on_version(std::string_view s) noexcept;
  int on_method_complete() noexcept;
  int on_url_complete() noexcept;
  int on_header_field(std::string_view s) noexcept;
  int on_header_value(std::string_view s) noexcept;
  int on_header_value_complete() noexcept;
  int on_headers_complete() noexcept;
  int on_body(std::string_view s) noexcept;
  int on_chunk_header() noexcept;
  int on_message_complete() noexcept;

 private:
  enum class Phase : std::uint8_t { head, method_pending, body, trailers, complete, failed };
  static constexpr std::size_t kLineStartBytes = 64;  // enough of the request line to judge
                                                      // an unknown method
  struct FieldSpan {  // offsets into storage_ (head) or trailer_storage_
    std::size_t name_at, name_len, value_at, value_len;
  };

  Step fail(const Error& e, std::size_t consumed);
  int fail_in_callback(const Error& e) noexcept;
  Step decide_method(std::string_view rest, std::size_t consumed);
  Step map_llhttp_error(llhttp_errno_t err, std::string_view input, std::size_t consumed);
  bool scan_head_bytes(std::string_view bytes);
  std::string& field_storage() noexcept;
  int finish_head() noexcept;
  int check_head_fields() noexcept;
  int check_transfer_encoding(std::string_view coding_list) noexcept;
  void build_views();

  Limits limits_;
  llhttp_settings_t settings_{};  // llhttp keeps a pointer: the parser never moves
  llhttp_t llhttp_{};
  Phase phase_ = Phase::head;
  StepKind pending_ = StepKind::need_data;  // set by a pausing callback
  std::string_view body_span_;
  Error error_{};
  bool callback_failed_ = false;  // error_ was set by one of our callbacks

  // per message
  std::size_t head_fed_ = 0;      // head bytes given to llhttp so far
  std::size_t trailer_fed_ = 0;   // trailer-section bytes given to llhttp so far
  unsigned char scan_prev_ = 0;   // last byte scanned (for CR/LF pairs across calls)
  std::uint64_t body_seen_ = 0;
  std::string storage_;           // method, target, field names and values (head)
  std::size_t method_len_ = 0, url_at_ = 0, url_len_ = 0;
  bool in_target_ = false;        // between the method and the end of the request-target
  std::string line_start_;        // the first head bytes consumed (for decide_method)
  std::string version_;           // "1.1" as sent (for telling 400 from 505)
  std::vector<FieldSpan> fields_;
  std::string trailer_storage_;
  std::vector<FieldSpan> trailer_fields_;
  bool field_open_ = false;       // a field name is being appended
  bool value_open_ = false;       // a field value is being appended
  FieldSpan current_{};
  std::vector<Header> headers_;
  std::vector<Header> trailers_;
  RequestHead head_;
};

}  // namespace lancet::http1
