#include "store/redis/redis_url.h"

#include <algorithm>
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
  return InvalidArgument("bad Redis URL '" + RedactStoreUrl(url) + "': " + std::string(what));
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes decoded; false on a malformed one.
bool PercentDecode(std::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out->push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return false;
    int hi = HexDigit(text[i + 1]), lo = HexDigit(text[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// "user:password", ":password" or "user", percent-encoded. The message
// names the part, never its text.
Status ParseUserInfo(std::string_view url, std::string_view info, RedisEndpoint* ep) {
  size_t colon = info.find(':');
  if (!PercentDecode(info.substr(0, colon), &ep->user)) {
    return Bad(url, "bad percent-encoding in the user name");
  }
  if (colon != std::string_view::npos && !PercentDecode(info.substr(colon + 1), &ep->password)) {
    return Bad(url, "bad percent-encoding in the password");
  }
  return Status::Ok();
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
  RedisEndpoint ep;
  // Host and db never hold '@', so the last one ends the user info, whatever
  // unencoded characters the password has.
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    if (Status s = ParseUserInfo(url, rest.substr(0, at), &ep); !s.ok()) return s;
    rest.remove_prefix(at + 1);
  }
  if (rest.find('?') != std::string_view::npos)
    return Bad(url, "query parameters are not supported");
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (Status s = ParseHostPort(url, authority, &ep); !s.ok()) return s;
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      if (Status s = ParseDb(url, db, &ep.db); !s.ok()) return s;
    }
  }
  return ep;
}

// One name=value of a redis+unix URL's query.
Status ParseUnixParam(std::string_view url, std::string_view param, RedisEndpoint* ep) {
  size_t eq = param.find('=');
  std::string_view name = param.substr(0, eq);
  std::string_view value = eq == std::string_view::npos ? "" : param.substr(eq + 1);
  if (eq != std::string_view::npos && name == "db") return ParseDb(url, value, &ep->db);
  if (eq != std::string_view::npos && name == "user") {
    if (PercentDecode(value, &ep->user)) return Status::Ok();
    return Bad(url, "bad percent-encoding in the user name");
  }
  if (eq != std::string_view::npos && name == "password") {
    if (PercentDecode(value, &ep->password)) return Status::Ok();
    return Bad(url, "bad percent-encoding in the password");
  }
  return Bad(url, "the query parameters supported are db=N, user=U and password=P");
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
  while (true) {
    size_t amp = params.find('&');
    if (Status s = ParseUnixParam(url, params.substr(0, amp), &ep); !s.ok()) return s;
    if (amp == std::string_view::npos) break;
    params.remove_prefix(amp + 1);
  }
  return ep;
}

}  // namespace

std::string RedisEndpoint::ToString() const {
  if (is_unix()) return "unix:" + unix_path + "?db=" + std::to_string(db);
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
}

std::string RedactStoreUrl(std::string_view url) {
  std::string out(url);
  // password= values in the query, up to the next '&'.
  for (size_t at = out.find("password="); at != std::string::npos;
       at = out.find("password=", at + 1)) {
    if (at == 0 || (out[at - 1] != '?' && out[at - 1] != '&')) continue;
    size_t value = at + 9;
    size_t end = std::min(out.find('&', value), out.size());
    out.replace(value, end - value, "***");
  }
  // The password in scheme://user:password@host: up to the last '@'.
  size_t scheme = out.find("://");
  if (scheme == std::string::npos) return out;
  size_t info = scheme + 3;
  if (info < out.size() && out[info] == '/') return out;  // no authority (redis+unix)
  size_t at = out.rfind('@');
  if (at == std::string::npos || at < info) return out;
  size_t colon = out.find(':', info);
  if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  return out;
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
