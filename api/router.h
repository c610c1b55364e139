// Router: one route table per listener.
//
// Patterns are literal segments and ":name" parameters
// ("/challenge-response/v1/session/:id"). A path matching no pattern gets the
// listener's not-found answer; a path matching with another method gets its
// method-not-allowed answer (with an Allow header). Tables are built at
// start-up and read-only afterwards.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"

namespace attestd::api {

using RouteHandler = std::function<HttpResponse(const HttpRequest&)>;

// Answers one request; call it exactly once, from any thread.
using Responder = std::function<void(HttpResponse)>;
// A handler that may answer after it returns, e.g. from a store's thread
// once Redis replied, so the server thread serves other requests meanwhile.
// It must copy what it needs of the request before returning.
using AsyncRouteHandler = std::function<void(const HttpRequest&, Responder)>;

// Builds the error answers in the listener's own format (problem+json, a
// Keylime envelope, JSON:API errors). Every answer of status >= 400 that is
// not a route's own goes through it: unknown paths, wrong methods (the
// router adds `Allow`), handlers that throw, and the HTTP adapter's refusals.
using RouteErrorFactory = std::function<HttpResponse(int status, std::string_view detail)>;

// A factory for the paths of a listener whose routes speak another error
// format (the verifier's JSON:API v3 routes): an answer for `path`, or
// nullopt to use the listener's own RouteErrorFactory.
using PathErrorFactory = std::function<std::optional<HttpResponse>(
    std::string_view path, int status, std::string_view detail)>;

// Runs before a route's handler: an answer refuses the request (e.g. 429
// from a rate limit) and the handler is not called; nullopt lets it through.
// Must be cheap and thread-safe.
using RouteGuard = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

// What a route demands of the connection beyond its own checks.
struct RouteOptions {
  // A verified TLS client certificate (HttpRequest::client_cert_der); without
  // one the route answers 403 in the listener's error format, as Keylime's
  // authorization does for an admin action with no mTLS identity. Only
  // enforced on a router with set_enforce_client_cert(true) (a listener
  // serving plain HTTP has no certificates to check).
  bool client_cert = false;
};

class Router {
 public:
  explicit Router(RouteErrorFactory errors);

  // `pattern` is also the route's name in logs and metrics.
  void Add(std::string method, std::string pattern, RouteHandler handler,
           RouteOptions options = {});
  void AddAsync(std::string method, std::string pattern, AsyncRouteHandler handler,
                RouteOptions options = {});

  // Whether routes added with RouteOptions::client_cert refuse requests that
  // came without a client certificate (the listener asks for one optionally).
  void set_enforce_client_cert(bool v) { enforce_client_cert_ = v; }

  // A trailing slash ("/agents/") matches the pattern without it.
  void set_ignore_trailing_slash(bool v) { ignore_trailing_slash_ = v; }

  struct Outcome {
    HttpResponse response;
    std::string route;  // the matched pattern, or "unmatched"
  };
  // Fills request.params and calls the handler. Handlers must not throw; an
  // escaping exception is answered with 500 so it never reaches the server.
  // Blocks until the handler answered, asynchronous ones included (tests and
  // tools; the HTTP adapter uses DispatchAsync).
  Outcome Dispatch(HttpRequest& request) const;
  // As Dispatch, but `done` gets the outcome when the handler answers: before
  // this returns, or later on another thread for an asynchronous handler.
  void DispatchAsync(HttpRequest& request, std::function<void(Outcome)> done) const;

  const RouteErrorFactory& errors() const { return errors_; }

  // Error answers for some paths in another format (see PathErrorFactory).
  void set_path_errors(PathErrorFactory f) { path_errors_ = std::move(f); }
  // The error answer for a request to `path`: the path factory's, else
  // errors(). The router's own 404/405/500 and the HTTP adapter's
  // refusals go through it.
  HttpResponse ErrorFor(std::string_view path, int status, std::string_view detail) const;

  // Puts `guard` in front of the route `method` `pattern`. False if there is
  // no such route. Set up before serving.
  bool Guard(const std::string& method, const std::string& pattern, RouteGuard guard);

  // Every pattern, once each (metrics label values).
  std::vector<std::string> Patterns() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    RouteHandler handler;  // either this
    AsyncRouteHandler async_handler;
    RouteGuard guard;  // may be empty
    RouteOptions options;
  };
  static std::vector<std::string_view> Split(std::string_view path);
  static bool Match(const Route& r, const std::vector<std::string_view>& segs, HttpRequest* req);

  RouteErrorFactory errors_;
  PathErrorFactory path_errors_;
  std::vector<Route> routes_;
  bool ignore_trailing_slash_ = false;
  bool enforce_client_cert_ = false;
};

}  // namespace attestd::api
