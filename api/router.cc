#include "api/router.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <future>
#include <memory>

#include "common/log.h"

namespace attestd::api {

Router::Router(RouteErrorFactory errors) : errors_(std::move(errors)) {}

std::vector<std::string_view> Router::Split(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

void Router::Add(std::string method, std::string pattern, RouteHandler handler,
                 RouteOptions options) {
  Route r{std::move(method), pattern, {}, std::move(handler), nullptr, nullptr, options};
  for (auto s : Split(pattern)) r.segments.emplace_back(s);
  routes_.push_back(std::move(r));
}

void Router::AddAsync(std::string method, std::string pattern, AsyncRouteHandler handler,
                      RouteOptions options) {
  Route r{std::move(method), pattern, {}, nullptr, std::move(handler), nullptr, options};
  for (auto s : Split(pattern)) r.segments.emplace_back(s);
  routes_.push_back(std::move(r));
}

HttpResponse Router::ErrorFor(std::string_view path, int status, std::string_view detail) const {
  if (path_errors_) {
    if (auto r = path_errors_(path, status, detail)) return std::move(*r);
  }
  return errors_(status, detail);
}

bool Router::Guard(const std::string& method, const std::string& pattern, RouteGuard guard) {
  bool found = false;
  for (Route& r : routes_) {
    if (r.method == method && r.pattern == pattern) {
      r.guard = guard;
      found = true;
    }
  }
  return found;
}

bool Router::Match(const Route& r, const std::vector<std::string_view>& segs, HttpRequest* req) {
  if (r.segments.size() != segs.size()) return false;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string& p = r.segments[i];
    if (!p.empty() && p[0] == ':') continue;
    if (p != segs[i]) return false;
  }
  if (req) {
    req->params.clear();
    for (size_t i = 0; i < segs.size(); ++i) {
      const std::string& p = r.segments[i];
      if (!p.empty() && p[0] == ':') req->params[p.substr(1)] = std::string(segs[i]);
    }
  }
  return true;
}

std::vector<std::string> Router::Patterns() const {
  std::vector<std::string> out;
  for (const Route& r : routes_) {
    if (std::find(out.begin(), out.end(), r.pattern) == out.end()) out.push_back(r.pattern);
  }
  return out;
}

Router::Outcome Router::Dispatch(HttpRequest& request) const {
  std::promise<Outcome> answered;
  std::future<Outcome> outcome = answered.get_future();
  DispatchAsync(request, [&answered](Outcome o) { answered.set_value(std::move(o)); });
  return outcome.get();
}

void Router::DispatchAsync(HttpRequest& request, std::function<void(Outcome)> done) const {
  std::string_view path = request.path;
  // "//x" or "/x//" would otherwise match "/x": only single slashes are paths.
  if (path.empty() || path[0] != '/' || path.find("//") != std::string_view::npos) {
    return done({ErrorFor(path, 404, "no such resource"), "unmatched"});
  }
  if (path.size() > 1 && path.back() == '/' && !ignore_trailing_slash_) {
    return done({ErrorFor(path, 404, "no such resource"), "unmatched"});
  }
  auto segs = Split(path);
  std::string allow;
  for (const Route& r : routes_) {
    if (!Match(r, segs, nullptr)) continue;
    if (r.method != request.method) {
      if (allow.find(r.method) == std::string::npos)
        allow += (allow.empty() ? "" : ", ") + r.method;
      continue;
    }
    Match(r, segs, &request);
    if (r.options.client_cert && enforce_client_cert_ && request.client_cert_der.empty()) {
      return done({ErrorFor(path, 403, "this route requires a TLS client certificate"), r.pattern});
    }
    if (r.guard) {
      if (auto refused = r.guard(request)) return done({std::move(*refused), r.pattern});
    }
    // A handler that throws is answered 500, unless it answered already.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    try {
      if (r.async_handler) {
        r.async_handler(request, [answered, done, pattern = r.pattern](HttpResponse resp) {
          if (!answered->exchange(true)) done({std::move(resp), pattern});
        });
      } else {
        HttpResponse resp = r.handler(request);
        answered->store(true);
        done({std::move(resp), r.pattern});
      }
      return;
    } catch (const std::exception& e) {
      LogError("handler threw", {{"route", r.pattern}, {"what", e.what()}});
    } catch (...) {
      LogError("handler threw", {{"route", r.pattern}});
    }
    if (!answered->exchange(true)) done({ErrorFor(path, 500, "internal error"), r.pattern});
    return;
  }
  if (!allow.empty()) {
    HttpResponse resp = ErrorFor(path, 405, "method not allowed on this resource");
    resp.AddHeader("Allow", allow);
    return done({std::move(resp), "unmatched"});
  }
  done({ErrorFor(path, 404, "no such resource"), "unmatched"});
}

}  // namespace attestd::api
