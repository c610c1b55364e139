// HttpServer: one listener (address, TLS, limits) serving one Router.
//
// What it guarantees on top of the HTTP library:
// - Persistent connections: HTTP/1.1 connections stay open unless the client
//   sent `Connection: close` (HTTP/1.0 only with `Connection: keep-alive`),
//   closed after `idle_timeout` without a request. (Debian's Pistache 0.0.5
//   answers `Connection: Close` to requests without a Connection header; the
//   server overrides that on every response.)
// - Bodies larger than max_body are answered 413 by the listener's error
//   factory; requests far beyond it are cut off by the library (also 413).
// - Handlers run on the listener's threads and may block briefly (store
//   calls); nothing a client sends can throw out of a handler.
// - One log line per request: listener, method, route template, status,
//   duration. Never bodies, query values or headers.
// - Drain(): new requests get 503 while in-flight ones finish; Stop() then
//   closes the listener.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "api/router.h"
#include "common/status.h"

namespace attestd::api {

struct ListenerOptions {
  std::string name = "challenge-response";  // for logs
  std::string address = "127.0.0.1:8080";   // host:port, [v6]:port; port 0 picks one
  int threads = 4;
  size_t max_body = 1 << 20;
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  // TLS when cert and key are set; with ca, clients must present a
  // certificate that chains to it.
  std::string tls_cert, tls_key, tls_ca;
};

// Called after each request (route template, HTTP status, seconds); must be
// cheap and thread-safe (metrics).
using RequestObserver = std::function<void(const std::string& route, int status, double seconds)>;

class HttpServer {
 public:
  HttpServer(ListenerOptions options, std::shared_ptr<const Router> router,
             RequestObserver observer = nullptr);
  ~HttpServer();

  // Binds and starts serving on background threads. kInvalidArgument for a
  // bad address or TLS files, kUnavailable if the port cannot be bound.
  Status Start();

  // The bound port (useful with port 0).
  int port() const;

  // Stops taking new work (503 to new requests) and waits up to `timeout`
  // for in-flight requests. Returns true if none is left.
  bool Drain(std::chrono::milliseconds timeout);

  // Closes the listener and its connections.
  void Stop();

  struct State;  // shared with the per-thread handler clones

 private:
  ListenerOptions options_;
  std::shared_ptr<State> state_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses "host:port" / "[v6]:port". False if malformed.
bool SplitHostPort(const std::string& address, std::string* host, int* port);

// Percent-decodes a query component; nullopt for a malformed escape.
std::optional<std::string> PercentDecode(std::string_view s);

}  // namespace attestd::api
