// See trace.hpp.
#include "protocol/http1/trace.hpp"

#include <array>
#include <boost/json.hpp>
#include <variant>
#include <vector>

#include "protocol/http1/connection.hpp"

namespace lancet::http1 {
namespace {

namespace json = boost::json;

json::array header_list(std::span<const Header> headers) {
  json::array a;
  for (const Header& h : headers) a.push_back(json::array{h.name, h.value});
  return a;
}

std::string_view form_name(TargetForm form) {
  switch (form) {
    case TargetForm::origin: return "origin";
    case TargetForm::absolute: return "absolute";
    case TargetForm::asterisk: return "asterisk";
  }
  return "origin";
}

json::object head_json(const RequestHead& h) {
  json::object o;
  o["event"] = "request_head";
  o["method"] = h.method;
  o["target"] = h.target;
  o["form"] = form_name(h.target_form);
  o["version"] = h.version == Version::http10 ? "1.0" : "1.1";
  o["headers"] = header_list(h.headers);
  o["keep_alive"] = h.keep_alive;
  if (h.expects_continue) o["expects_continue"] = true;
  if (h.is_upgrade) o["upgrade"] = h.upgrade;
  if (h.content_length) o["content_length"] = *h.content_length;
  if (h.chunked) o["chunked"] = true;
  return o;
}

class Tracer {
 public:
  explicit Tracer(const Options& options) : conn_(options) {}

  // Pulls events until the connection needs data; false once the trace has ended.
  bool pump() {
    for (;;) {
      auto ev = conn_.next_event();
      if (!ev) return end_with_error(ev.error());
      if (std::holds_alternative<NeedData>(*ev)) return true;
      if (auto* d = std::get_if<Data>(&*ev)) {
        body_.append(d->bytes);
        continue;
      }
      flush_body();
      if (auto* h = std::get_if<RequestHead>(&*ev)) {
        emit(head_json(*h));
      } else if (auto* e = std::get_if<EndOfMessage>(&*ev)) {
        json::object o{{"event", "end_of_message"}};
        if (!e->trailers.empty()) o["trailers"] = header_list(e->trailers);
        emit(o);
        if (!answer()) return false;
      } else if (std::holds_alternative<ConnectionClosed>(*ev)) {
        emit(json::object{{"event", "connection_closed"}});
        return false;
      } else {
        return false;  // Paused with nothing to answer: the connection closes
      }
    }
  }

  void feed(std::string_view bytes) { conn_.receive_data(bytes); }
  void lend(std::string_view bytes) { conn_.lend_data(bytes); }
  void keep() { conn_.keep_input(); }
  void eof() { conn_.receive_eof(); }
  std::string take() { return std::move(out_); }

 private:
  bool answer() {
    const ResponseHead head{204, {}, {}};
    if (!conn_.send(head) || !conn_.send_end()) return false;
    conn_.take_output();
    return conn_.start_next_cycle().has_value();
  }
  bool end_with_error(const Error& e) {
    flush_body();
    conn_.send_error_response(e);
    json::object o{{"event", "error"},
                   {"code", to_string(e.code)},
                   {"status", e.http_status_hint},
                   {"reason", e.detail},
                   {"response", conn_.take_output()}};
    emit(o);
    return false;
  }
  void flush_body() {
    if (body_.empty()) return;
    emit(json::object{{"event", "data"}, {"bytes", body_}});
    body_.clear();
  }
  void emit(const json::object& o) {
    out_ += json::serialize(o);
    out_ += '\n';
  }

  ServerConnection conn_;
  std::string body_;
  std::string out_;
};

}  // namespace

std::string trace_request_stream(const Options& options, std::span<const std::string_view> pieces,
                                 Feed feed) {
  Tracer t(options);
  bool going = true;
  std::array<std::string, 3> lent;  // the receive buffers a lent feed reuses
  std::size_t held = 0;             // of them, lent since the last keep()
  const std::size_t batch = feed == Feed::lent_in_threes ? lent.size() : 1;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    if (feed == Feed::copied) {
      t.feed(pieces[i]);
    } else {
      lent[held].assign(pieces[i]);
      t.lend(lent[held]);
      ++held;
      if (held < batch && i + 1 < pieces.size()) continue;
    }
    going = t.pump();
    if (feed != Feed::copied) {
      t.keep();
      // Reused: a view left into them would read garbage.
      for (std::size_t k = 0; k < held; ++k) lent[k].assign(lent[k].size(), '\x7f');
      held = 0;
    }
    if (!going) break;
  }
  if (going) {
    t.eof();
    t.pump();
  }
  return t.take();
}

std::string trace_request_stream(const Options& options, std::string_view bytes) {
  const std::array<std::string_view, 1> one{bytes};
  return trace_request_stream(options, one);
}

}  // namespace lancet::http1
