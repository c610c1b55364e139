// Metrics: Prometheus text exposition (format 0.0.4) of what the server does.
//
// The hot path only touches atomics: label sets (routes, statuses, media
// types) are fixed when the process is wired, so recording never allocates
// or locks. Values are read when /metrics is scraped.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace attestd {

// Cumulative histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  static const std::vector<double>& DefaultBuckets();
  explicit Histogram(const std::vector<double>& bounds = DefaultBuckets());
  void Observe(double seconds);
  // Appends `name_bucket{labels,le=…}`, `name_sum`, `name_count` lines.
  void Render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // one per bound, plus +Inf
  std::atomic<uint64_t> sum_ns_{0};
};

class Metrics {
 public:
  // Names every route of a listener before serving (label values are fixed).
  void RegisterRoutes(const std::string& listener, const std::vector<std::string>& routes);
  void RegisterMediaTypes(const std::vector<std::string>& media_types);

  // One HTTP request. Unregistered routes are counted as "unmatched".
  void ObserveRequest(const std::string& listener, const std::string& route, int status,
                      double seconds);

  // kRefused: a new session refused because the store held --max-sessions.
  enum class SessionEvent { kCreated, kCompleted, kFailed, kExpired, kRefused };
  void CountSession(SessionEvent e);

  enum class Outcome { kValid, kInvalid, kError };
  void ObserveAppraisal(std::string_view media_type, Outcome outcome, double seconds);

  // Connection-level counters of one listener. The pointer stays valid for
  // the process's life; recording is one relaxed atomic add (check
  // enabled() first). Registering a name again returns the same counters.
  struct ListenerCounters {
    std::atomic<uint64_t> tls_handshake_timeouts{0};
    std::atomic<uint64_t> tls_handshake_failures{0};
    std::atomic<uint64_t> refused_handshake_cap{0};          // listener-wide cap
    std::atomic<uint64_t> refused_handshake_per_address{0};  // per client address cap
  };
  ListenerCounters* RegisterListener(const std::string& listener);

  // A value read at scrape time (queue depth, store reconnects, …). Adding a
  // name again replaces the earlier reader. Wiring time only.
  void AddGauge(std::string name, std::string help, std::string type, std::function<double()> read);

  std::string Render() const;

  // Off: every recording call returns at once (to measure their cost).
  void set_enabled(bool on) { enabled_.store(on, std::memory_order_relaxed); }
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }

 private:
  struct RouteStats {
    std::array<std::atomic<uint64_t>, 600> by_status{};
    Histogram latency;
  };
  struct MediaStats {
    std::array<std::atomic<uint64_t>, 3> by_outcome{};
    Histogram duration;
  };
  struct Gauge {
    std::string name, help, type;
    std::function<double()> read;
  };
  void RenderListeners(std::string& out) const;
  RouteStats* FindRoute(const std::string& listener, const std::string& route);

  // Keyed by "listener\troute"; built before serving, read-only afterwards.
  std::map<std::string, std::unique_ptr<RouteStats>> routes_;
  std::map<std::string, std::unique_ptr<MediaStats>, std::less<>> media_;
  std::array<std::atomic<uint64_t>, 5> sessions_{};
  std::vector<Gauge> gauges_;
  mutable std::mutex listeners_mu_;  // registration and scrape only, never recording
  std::map<std::string, std::unique_ptr<ListenerCounters>> listeners_;
  std::atomic<bool> enabled_{true};
};

// The process's metrics. Wiring registers label sets before serving.
Metrics& GlobalMetrics();

}  // namespace attestd
