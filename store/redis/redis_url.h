// Where a Redis server is, as written in a store URL.
//
//   redis://[[user]:password@]host[:port][/db]
//       TCP; port defaults to 6379, db to 0; an IPv6 host goes in brackets
//   redis+unix:///path/to/socket[?db=N][&user=U][&password=P]
//       Unix domain socket
//
// User and password are percent-decoded; `redis://user@host` names a user
// whose password comes from elsewhere (StoreOptions). TLS is not supported
// yet: a `rediss://` URL or an unknown query parameter is rejected rather
// than silently ignored. No error message quotes a password.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace attestd {

struct RedisEndpoint {
  std::string host;       // TCP host (name or address); empty for a Unix socket
  int port = 6379;        // TCP port
  std::string unix_path;  // socket path; empty for TCP
  int db = 0;             // logical database selected on connect
  std::string user;       // ACL user for AUTH; empty: the default user
  std::string password;   // AUTH password; empty: no AUTH

  bool is_unix() const { return !unix_path.empty(); }
  // For logs: "127.0.0.1:6379/0" or "unix:/run/redis.sock?db=0"; never
  // the user or password.
  std::string ToString() const;
};

// True if `url` uses one of the two Redis schemes (so a parse error is worth
// reporting as a bad Redis URL rather than an unknown store).
bool IsRedisUrl(std::string_view url);

// kInvalidArgument naming the part of the URL that is wrong (the URL is
// quoted redacted, see RedactStoreUrl).
[[nodiscard]] Result<RedisEndpoint> ParseRedisUrl(std::string_view url);

// `url` fit for logs and error messages: the password in the user info of
// any scheme://user:password@host URL, and the value of a password= query
// parameter, become "***" ("redis://user:***@host:6379/0"). Other URLs,
// "memory" included, come back unchanged.
std::string RedactStoreUrl(std::string_view url);

}  // namespace attestd
