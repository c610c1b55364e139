#include "api/http_parse.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>

#include "api/http_server.h"

namespace attestd::api {

// Declared in http_server.h; here so that the parsing path (and its fuzz
// target) stands without the server.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

}  // namespace attestd::api

namespace attestd::api::http_parse {

namespace http = boost::beast::http;
using boost::system::error_code;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ::tolower);
  return out;
}

// Query parameters: "a=1&b" → {a: 1, b: ""}; false on a malformed escape.
bool DecodeQuery(std::string_view query, HttpRequest* out) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto k = PercentDecode(pair.substr(0, eq));
    auto v = PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!k || !v) return false;
    out->query.emplace(std::move(*k), std::move(*v));
  }
  return true;
}

// What a parse error is called in an answer: never the library's text.
std::string ParseErrorDetail(const error_code& ec) {
  switch (static_cast<http::error>(ec.value())) {
    case http::error::bad_chunk:
    case http::error::bad_chunk_extension:
      return "malformed chunked body";
    case http::error::bad_content_length:
      return "malformed Content-Length";
    case http::error::bad_transfer_encoding:
      return "unsupported Transfer-Encoding";
    case http::error::bad_method:
    case http::error::bad_target:
    case http::error::bad_version:
      return "malformed request line";
    case http::error::bad_field:
    case http::error::bad_value:
    case http::error::bad_line_ending:
      return "malformed header field";
    default:
      return "malformed request";
  }
}

}  // namespace

void Configure(RequestParser& parser, size_t max_body) {
  parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
  parser.body_limit(max_body);
}

std::optional<Refusal> CheckHeader(const RequestParser& parser) {
  const auto& req = parser.get();
  if (req.target().size() > kMaxTargetBytes) return Refusal{414, "request target too long"};
  size_t header_bytes = 0;
  for (const auto& f : req) header_bytes += f.name_string().size() + f.value().size();
  if (header_bytes > kMaxHeaderBytes) return Refusal{431, "request headers too large"};
  if (req.method() == http::verb::unknown) return Refusal{400, "unsupported method"};
  return std::nullopt;
}

std::optional<Refusal> RefusalFor(const error_code& ec, const RequestParser& parser,
                                  size_t max_body) {
  if (ec == http::error::body_limit) {
    return Refusal{413, "body larger than " + std::to_string(max_body) + " bytes"};
  }
  if (ec == http::error::header_limit) {
    // Beast consumes the request line once parsed: no target yet means the
    // limit was hit inside it.
    auto target = parser.get().target();
    if (target.empty() || target.size() > kMaxTargetBytes) {
      return Refusal{414, "request target too long"};
    }
    return Refusal{431, "request headers too large"};
  }
  static const error_code kHttpError = http::error::bad_method;
  if (ec.category() == kHttpError.category() && ec != http::error::end_of_stream &&
      ec != http::error::partial_message) {
    return Refusal{400, ParseErrorDetail(ec)};
  }
  return std::nullopt;  // the client went away or broke the connection
}

std::variant<HttpRequest, Refusal> ToHttpRequest(RequestParser& parser) {
  auto& req = parser.get();
  HttpRequest r;
  r.method = std::string(req.method_string());
  std::string_view target(req.target().data(), req.target().size());
  size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos && !DecodeQuery(target.substr(q + 1), &r)) {
    return Refusal{400, "malformed percent-encoding in the query string"};
  }
  for (const auto& f : req) r.headers.emplace(Lower(f.name_string()), std::string(f.value()));
  r.body = std::move(req.body());
  return r;
}

std::optional<std::variant<HttpRequest, Refusal>> ParseRequestBytes(std::string_view bytes,
                                                                    size_t max_body) {
  RequestParser parser;
  Configure(parser, max_body);
  parser.eager(true);  // the body too, as the listener's second read does
  bool header_checked = false;
  error_code ec;
  while (!parser.is_done()) {
    size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    bytes.remove_prefix(std::min(used, bytes.size()));
    if (!header_checked && !ec && parser.is_header_done()) {
      header_checked = true;
      if (auto refused = CheckHeader(parser)) return *refused;
    }
    if (ec == http::error::need_more) {
      // The bytes end inside a request: the listener would wait for more.
      if (bytes.empty() || used == 0) return std::nullopt;
      ec = {};
      continue;
    }
    if (ec) {
      if (auto refused = RefusalFor(ec, parser, max_body)) return *refused;
      return std::nullopt;
    }
    if (used == 0 && !parser.is_done()) return std::nullopt;
  }
  if (!header_checked) {
    if (auto refused = CheckHeader(parser)) return *refused;
  }
  return ToHttpRequest(parser);
}

}  // namespace attestd::api::http_parse
