// The HTTP request and response as route handlers see them.
//
// Routes work on these plain values, never on the HTTP library's types, so
// they can be unit-tested without a socket and the library stays swappable.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attestd::api {

struct HttpRequest {
  std::string method;  // "GET", "POST", …
  std::string path;    // without the query string
  // Query parameters, percent-decoded ('+' is kept literally: it is a base64
  // character far more often than an encoded space in this API).
  std::map<std::string, std::string> query;
  // Header names lower-cased; a repeated header keeps its first value.
  std::map<std::string, std::string> headers;
  std::string body;
  std::string peer;  // remote address, for logs
  // DER of the verified TLS client certificate, when one was presented.
  std::string client_cert_der;
  // Route parameters (":id" → "id"), filled by the router.
  std::map<std::string, std::string> params;

  std::optional<std::string_view> header(std::string_view lower_name) const;
  std::optional<std::string_view> param(std::string_view name) const;
  std::optional<std::string_view> query_param(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;  // empty: no Content-Type (e.g. 204)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  HttpResponse& AddHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// The reason phrase of an HTTP status ("Not Found").
const char* ReasonPhrase(int status);

}  // namespace attestd::api
