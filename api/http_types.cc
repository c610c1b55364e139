#include "api/http_types.h"

namespace attestd::api {

namespace {
template <typename M>
std::optional<std::string_view> Lookup(const M& m, std::string_view key) {
  auto it = m.find(std::string(key));
  if (it == m.end()) return std::nullopt;
  return std::string_view(it->second);
}
}  // namespace

std::optional<std::string_view> HttpRequest::header(std::string_view n) const {
  return Lookup(headers, n);
}
std::optional<std::string_view> HttpRequest::param(std::string_view n) const {
  return Lookup(params, n);
}
std::optional<std::string_view> HttpRequest::query_param(std::string_view n) const {
  return Lookup(query, n);
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

}  // namespace attestd::api
