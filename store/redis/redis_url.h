// Where a Redis server is, as written in a store URL.
//
//   redis://host[:port][/db]              TCP; port defaults to 6379, db to 0;
//                                         an IPv6 host goes in brackets
//   redis+unix:///path/to/socket[?db=N]   Unix domain socket
//
// Credentials and TLS are not supported yet: a URL with user info, a
// `rediss://` URL or an unknown query parameter is rejected rather than
// silently ignored.
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

  bool is_unix() const { return !unix_path.empty(); }
  // For logs: "127.0.0.1:6379/0" or "unix:/run/redis.sock?db=0".
  std::string ToString() const;
};

// True if `url` uses one of the two Redis schemes (so a parse error is worth
// reporting as a bad Redis URL rather than an unknown store).
bool IsRedisUrl(std::string_view url);

// kInvalidArgument naming the part of the URL that is wrong.
Result<RedisEndpoint> ParseRedisUrl(std::string_view url);

}  // namespace attestd
