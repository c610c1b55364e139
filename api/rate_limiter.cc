#include "api/rate_limiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <iterator>

namespace attestd::api {

RateLimiter::RateLimiter(double rate, double burst, size_t max_clients)
    : rate_(std::max(rate, 1e-6)),
      burst_(std::max(burst, 1.0)),
      max_per_shard_(std::max<size_t>(max_clients / kShards, 1)) {}

std::string RateLimiter::ClientKey(std::string_view address) {
  std::string a(address);
  unsigned char v6[16];
  if (inet_pton(AF_INET6, a.c_str(), v6) != 1) return a;  // IPv4, or whatever it is
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6, kMapped, sizeof kMapped) == 0) {
    char v4[INET_ADDRSTRLEN];
    if (inet_ntop(AF_INET, v6 + 12, v4, sizeof v4)) return v4;
  }
  std::memset(v6 + 8, 0, 8);
  char out[INET6_ADDRSTRLEN];
  if (!inet_ntop(AF_INET6, v6, out, sizeof out)) return a;
  return std::string(out) + "/64";
}

bool RateLimiter::Refill(Bucket& b, std::chrono::steady_clock::time_point now) const {
  double elapsed = std::chrono::duration<double>(now - b.last).count();
  if (elapsed > 0) {
    b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
    b.last = now;
  }
  return b.tokens >= burst_;
}

RateLimiter::Bucket& RateLimiter::BucketFor(Shard& shard, const std::string& key,
                                            std::chrono::steady_clock::time_point now) {
  auto it = shard.buckets.find(key);
  if (it != shard.buckets.end()) return it->second;
  if (shard.buckets.size() >= max_per_shard_) {
    // Full buckets hold nothing a fresh one would not: drop them.
    for (auto b = shard.buckets.begin(); b != shard.buckets.end();) {
      b = Refill(b->second, now) ? shard.buckets.erase(b) : std::next(b);
    }
  }
  if (shard.buckets.size() >= max_per_shard_) {
    if (!shard.overflow_used) shard.overflow = Bucket{burst_, now};
    shard.overflow_used = true;
    return shard.overflow;
  }
  return shard.buckets.emplace(key, Bucket{burst_, now}).first->second;
}

int RateLimiter::Take(std::string_view client) {
  return Take(client, std::chrono::steady_clock::now());
}

int RateLimiter::Take(std::string_view client, std::chrono::steady_clock::time_point now) {
  std::string key = ClientKey(client);
  Shard& shard = shards_[std::hash<std::string>{}(key) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  Bucket& b = BucketFor(shard, key, now);
  Refill(b, now);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  refused_.fetch_add(1, std::memory_order_relaxed);
  return std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / rate_)));
}

size_t RateLimiter::clients() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

RouteGuard RateLimiter::Guard(std::shared_ptr<RateLimiter> limiter, const Router* router) {
  return [limiter = std::move(limiter),
          router](const HttpRequest& req) -> std::optional<HttpResponse> {
    int wait = limiter->Take(req.peer);
    if (wait == 0) return std::nullopt;
    HttpResponse r = router->ErrorFor(req.path, 429, "too many requests from this address");
    r.AddHeader("Retry-After", std::to_string(wait));
    return r;
  };
}

}  // namespace attestd::api
