// RateLimiter: a token bucket per client address, in front of the routes
// that make the server store something for an unauthenticated client
// (newSession, evidence POSTs).
//
// What it promises:
// - A client gets `burst` requests at once, then `rate` per second. IPv6
//   clients are counted per /64 (one host can hold a whole /64), IPv4 per
//   address.
// - Bounded memory: at most `max_clients` buckets (about 100 bytes each).
//   A bucket that has refilled is the same as none and is dropped when room
//   is needed; when every bucket is in use, new addresses share one
//   overflow bucket (per shard), so a flood of addresses is limited as one.
// - Thread-safe; Take is a hash lookup under one of 16 shard locks.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/router.h"

namespace attestd::api {

class RateLimiter {
 public:
  // `rate` tokens per second (> 0), `burst` tokens at most (>= 1).
  RateLimiter(double rate, double burst, size_t max_clients = 65536);

  // 0 when `client` (an address as the HTTP adapter gives it) may go ahead
  // (one token taken), else the whole seconds until a token is there (>= 1).
  int Take(std::string_view client);
  int Take(std::string_view client, std::chrono::steady_clock::time_point now);

  // A guard for Router::Guard: 429 with Retry-After, in the format
  // `router` uses for the request's path. The guard keeps `limiter` alive;
  // `router` must outlive it (it is stored in the router).
  static RouteGuard Guard(std::shared_ptr<RateLimiter> limiter, const Router* router);

  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  size_t clients() const;

  // The bucket key of an address: IPv6 cut to its /64, IPv4 (also
  // IPv4-mapped IPv6) as is.
  static std::string ClientKey(std::string_view address);

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
    Bucket overflow;
    bool overflow_used = false;
  };
  static constexpr size_t kShards = 16;

  // Requires shard.mu. The bucket for `key`, made room for when needed.
  Bucket& BucketFor(Shard& shard, const std::string& key,
                    std::chrono::steady_clock::time_point now);
  // Tops `b` up to `now`; true if it is full (indistinguishable from new).
  bool Refill(Bucket& b, std::chrono::steady_clock::time_point now) const;

  const double rate_;
  const double burst_;
  const size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> refused_{0};
};

}  // namespace attestd::api
