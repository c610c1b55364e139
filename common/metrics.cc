#include "common/metrics.h"

#include <cmath>
#include <cstdio>

namespace attestd {

const std::vector<double>& Histogram::DefaultBuckets() {
  static const std::vector<double> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                               1,      2.5,     5,      10};
  return kBuckets;
}

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double seconds) {
  size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e9), std::memory_order_relaxed);
}

namespace {

std::string FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string Labels(std::string_view base, std::string_view extra) {
  std::string l(base);
  if (!extra.empty()) l += (l.empty() ? "" : ",") + std::string(extra);
  return l.empty() ? "" : "{" + l + "}";
}

// Label values are route templates and media types chosen by the code, but
// escape anyway so the exposition can never be malformed.
std::string Escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

void Header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

}  // namespace

void Histogram::Render(std::string& out, std::string_view name, std::string_view labels) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    std::string le = "le=\"" + FormatDouble(i < bounds_.size() ? bounds_[i] : INFINITY) + "\"";
    out += std::string(name) + "_bucket" + Labels(labels, le) + " " + std::to_string(cumulative) +
           "\n";
  }
  out += std::string(name) + "_sum" + Labels(labels, "") + " " +
         FormatDouble(static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9) + "\n";
  out +=
      std::string(name) + "_count" + Labels(labels, "") + " " + std::to_string(cumulative) + "\n";
}

void Metrics::RegisterRoutes(const std::string& listener, const std::vector<std::string>& routes) {
  for (const auto& r : routes) routes_.emplace(listener + "\t" + r, std::make_unique<RouteStats>());
  routes_.emplace(listener + "\tunmatched", std::make_unique<RouteStats>());
}

void Metrics::RegisterMediaTypes(const std::vector<std::string>& media_types) {
  for (const auto& t : media_types) media_.emplace(t, std::make_unique<MediaStats>());
}

Metrics::RouteStats* Metrics::FindRoute(const std::string& listener, const std::string& route) {
  std::string key;
  key.reserve(listener.size() + route.size() + 1);
  key += listener;
  key += '\t';
  key += route;
  auto it = routes_.find(key);
  if (it != routes_.end()) return it->second.get();
  it = routes_.find(listener + "\tunmatched");
  return it == routes_.end() ? nullptr : it->second.get();
}

void Metrics::ObserveRequest(const std::string& listener, const std::string& route, int status,
                             double seconds) {
  if (!enabled()) return;
  RouteStats* s = FindRoute(listener, route);
  if (!s) return;
  if (status >= 0 && status < 600) s->by_status[status].fetch_add(1, std::memory_order_relaxed);
  s->latency.Observe(seconds);
}

void Metrics::CountSession(SessionEvent e) {
  if (!enabled()) return;
  sessions_[static_cast<size_t>(e)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::ObserveAppraisal(std::string_view media_type, Outcome outcome, double seconds) {
  if (!enabled()) return;
  auto it = media_.find(media_type);
  if (it == media_.end()) return;
  it->second->by_outcome[static_cast<size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
  it->second->duration.Observe(seconds);
}

Metrics::ListenerCounters* Metrics::RegisterListener(const std::string& listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  auto& slot = listeners_[listener];
  if (!slot) slot = std::make_unique<ListenerCounters>();
  return slot.get();
}

void Metrics::AddGauge(std::string name, std::string help, std::string type,
                       std::function<double()> read) {
  for (Gauge& g : gauges_) {
    if (g.name == name) {
      g.read = std::move(read);
      return;
    }
  }
  gauges_.push_back({std::move(name), std::move(help), std::move(type), std::move(read)});
}

std::string Metrics::Render() const {
  std::string out;
  Header(out, "attestd_http_requests_total",
         "HTTP requests by listener, route template and status.", "counter");
  for (const auto& [key, s] : routes_) {
    std::string base = "listener=\"" + Escape(key.substr(0, key.find('\t'))) + "\",route=\"" +
                       Escape(key.substr(key.find('\t') + 1)) + "\"";
    for (int code = 0; code < 600; ++code) {
      uint64_t n = s->by_status[code].load(std::memory_order_relaxed);
      if (n)
        out += "attestd_http_requests_total{" + base + ",status=\"" + std::to_string(code) +
               "\"} " + std::to_string(n) + "\n";
    }
  }
  Header(out, "attestd_http_request_duration_seconds",
         "HTTP request latency by listener and route template.", "histogram");
  for (const auto& [key, s] : routes_) {
    std::string base = "listener=\"" + Escape(key.substr(0, key.find('\t'))) + "\",route=\"" +
                       Escape(key.substr(key.find('\t') + 1)) + "\"";
    s->latency.Render(out, "attestd_http_request_duration_seconds", base);
  }
  static const char* kSessionNames[] = {"created", "completed", "failed", "expired", "refused"};
  static const char* kSessionHelp[] = {
      "Sessions created.", "Sessions whose evidence was appraised.",
      "Sessions the server could not appraise.", "Sessions that expired in the embedded store.",
      "New sessions refused because the store held --max-sessions live sessions."};
  for (size_t i = 0; i < 5; ++i) {
    std::string name = std::string("attestd_sessions_") + kSessionNames[i] + "_total";
    Header(out, name, kSessionHelp[i], "counter");
    out += name + " " + std::to_string(sessions_[i].load(std::memory_order_relaxed)) + "\n";
  }
  static const char* kOutcomes[] = {"valid", "invalid", "error"};
  Header(out, "attestd_appraisals_total", "Appraisals by evidence media type and outcome.",
         "counter");
  for (const auto& [type, m] : media_) {
    for (size_t i = 0; i < 3; ++i) {
      out += "attestd_appraisals_total{media_type=\"" + Escape(type) + "\",outcome=\"" +
             kOutcomes[i] + "\"} " +
             std::to_string(m->by_outcome[i].load(std::memory_order_relaxed)) + "\n";
    }
  }
  Header(out, "attestd_appraisal_duration_seconds", "Appraisal time by evidence media type.",
         "histogram");
  for (const auto& [type, m] : media_) {
    m->duration.Render(out, "attestd_appraisal_duration_seconds",
                       "media_type=\"" + Escape(type) + "\"");
  }
  RenderListeners(out);
  for (const Gauge& g : gauges_) {
    Header(out, g.name, g.help, g.type);
    out += g.name + " " + FormatDouble(g.read()) + "\n";
  }
  return out;
}

void Metrics::RenderListeners(std::string& out) const {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  auto line = [&out](std::string_view name, const std::string& labels,
                     const std::atomic<uint64_t>& v) {
    out += std::string(name) + "{" + labels + "} " +
           std::to_string(v.load(std::memory_order_relaxed)) + "\n";
  };
  Header(out, "attestd_tls_handshake_timeouts_total", "TLS handshakes not finished in time.",
         "counter");
  for (const auto& [name, c] : listeners_) {
    line("attestd_tls_handshake_timeouts_total", "listener=\"" + Escape(name) + "\"",
         c->tls_handshake_timeouts);
  }
  Header(out, "attestd_tls_handshake_failures_total", "TLS handshakes that failed.", "counter");
  for (const auto& [name, c] : listeners_) {
    line("attestd_tls_handshake_failures_total", "listener=\"" + Escape(name) + "\"",
         c->tls_handshake_failures);
  }
  Header(out, "attestd_connections_refused_total", "New connections closed at once, by reason.",
         "counter");
  for (const auto& [name, c] : listeners_) {
    std::string base = "listener=\"" + Escape(name) + "\",reason=";
    line("attestd_connections_refused_total", base + "\"handshake_cap\"", c->refused_handshake_cap);
    line("attestd_connections_refused_total", base + "\"handshake_per_address_cap\"",
         c->refused_handshake_per_address);
  }
}

Metrics& GlobalMetrics() {
  static Metrics* m = new Metrics();  // never destroyed: threads may record during exit
  return *m;
}

}  // namespace attestd
