#include "store/redis/redis_url.h"

#include <charconv>

namespace attestd {
namespace {

constexpr std::string_view kTcpScheme = "redis://";
constexpr std::string_view kUnixScheme = "redis+unix://";

// Parses all of `text` as a decimal integer in [lo, hi].
bool ParseInt(std::string_view text, int lo, int hi, int* out) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return false;
  if (value < lo || value > hi) return false;
  *out = value;
  return true;
}

Status Bad(std::string_view url, std::string_view what) {
  return InvalidArgument("bad Redis URL '" + std::string(url) + "': " + std::string(what));
}

// `db` as written after the slash or in ?db=; Redis has 16 databases by
// default but can be configured with more, so only the sign is checked here.
Status ParseDb(std::string_view url, std::string_view text, int* db) {
  if (!ParseInt(text, 0, 1 << 20, db)) {
    return Bad(url, "database '" + std::string(text) + "' is not a non-negative integer");
  }
  return Status::Ok();
}

// host[:port] or [v6addr][:port].
Status ParseHostPort(std::string_view url, std::string_view authority, RedisEndpoint* ep) {
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Bad(url, "unterminated '[' in host");
    ep->host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return Bad(url, "junk after ']' in host");
    if (!rest.empty()) port_text = rest.substr(1);
    if (rest.size() == 1) return Bad(url, "empty port");
  } else {
    size_t colon = authority.find(':');
    ep->host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return Bad(url, "empty port");
    }
  }
  if (ep->host.empty()) return Bad(url, "missing host");
  if (!port_text.empty() && !ParseInt(port_text, 1, 65535, &ep->port)) {
    return Bad(url, "port '" + std::string(port_text) + "' is not a number in 1..65535");
  }
  return Status::Ok();
}

Result<RedisEndpoint> ParseTcp(std::string_view url) {
  std::string_view rest = url.substr(kTcpScheme.size());
  if (rest.find('?') != std::string_view::npos)
    return Bad(url, "query parameters are not supported");
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) {
    return Bad(url, "credentials in the URL are not supported");
  }
  RedisEndpoint ep;
  if (Status s = ParseHostPort(url, authority, &ep); !s.ok()) return s;
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      if (Status s = ParseDb(url, db, &ep.db); !s.ok()) return s;
    }
  }
  return ep;
}

Result<RedisEndpoint> ParseUnix(std::string_view url) {
  std::string_view rest = url.substr(kUnixScheme.size());
  if (rest.empty() || rest.front() != '/') {
    return Bad(url, "want redis+unix:///absolute/path/to/socket (three slashes)");
  }
  size_t query = rest.find('?');
  RedisEndpoint ep;
  ep.unix_path = std::string(rest.substr(0, query));
  if (ep.unix_path == "/") return Bad(url, "missing socket path");
  if (query == std::string_view::npos) return ep;
  std::string_view params = rest.substr(query + 1);
  if (params.substr(0, 3) != "db=" || params.find('&') != std::string_view::npos) {
    return Bad(url, "the only query parameter supported is db=N");
  }
  if (Status s = ParseDb(url, params.substr(3), &ep.db); !s.ok()) return s;
  return ep;
}

}  // namespace

std::string RedisEndpoint::ToString() const {
  if (is_unix()) return "unix:" + unix_path + "?db=" + std::to_string(db);
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
}

bool IsRedisUrl(std::string_view url) {
  return url.substr(0, kTcpScheme.size()) == kTcpScheme ||
         url.substr(0, kUnixScheme.size()) == kUnixScheme;
}

Result<RedisEndpoint> ParseRedisUrl(std::string_view url) {
  if (url.substr(0, kTcpScheme.size()) == kTcpScheme) return ParseTcp(url);
  if (url.substr(0, kUnixScheme.size()) == kUnixScheme) return ParseUnix(url);
  return Bad(url, "scheme must be redis:// or redis+unix://");
}

}  // namespace attestd
