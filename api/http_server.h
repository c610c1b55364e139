// HttpServer: one listener (address, TLS, limits) serving one Router.
//
// What it guarantees (Boost.Beast + Boost.Asio underneath):
// - Nothing a client does (or fails to do) delays another client: accept,
//   TLS handshakes, reads and writes are all asynchronous and spread over the
//   listener's threads. A TLS handshake must finish within
//   `handshake_timeout`; at most `max_handshakes` connections (and
//   `max_handshakes_per_address` from one client address) may be handshaking
//   at once, a new connection over either cap is closed at once. Timeouts and
//   refusals are counted in the listener's metrics.
// - Persistent connections: HTTP/1.1 connections stay open unless the client
//   sent `Connection: close` (HTTP/1.0 only with `Connection: keep-alive`),
//   closed after `idle_timeout` without a request. A request's header must
//   arrive within `header_timeout` of its first byte, its body within
//   `body_timeout`. Pipelined requests are answered in order: the next
//   request is read only once the previous one is answered.
// - Every error answer the listener makes itself (malformed request or
//   chunked framing, body over max_body, target over 8 KiB → 414, headers
//   over 64 KiB → 431, timeouts, draining → 503) comes from the router's
//   error factory, so it is in the listener's own format; its detail never
//   carries exception text, addresses or paths. Bodies are never buffered
//   beyond max_body (a chunk announcing more is refused before it is read).
// - Handlers run on the listener's threads and may block briefly (store
//   calls); asynchronous routes may answer from any thread. Nothing a client
//   sends can throw out of the server; a client that vanishes mid-answer is
//   harmless.
// - Routes see the verified TLS client certificate (DER) in
//   HttpRequest::client_cert_der, empty when the client presented none.
// - One log line per request: listener, method, route template, status,
//   duration. Never bodies, query values or headers.
// - Drain(): new requests get 503 while in-flight ones finish; Stop() then
//   closes the listener and its connections.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/router.h"
#include "common/status.h"

namespace attestd::api {

// Whether a TLS listener asks for a client certificate.
enum class ClientCertMode {
  kDefault,   // kRequired when tls_ca is set, else kNone
  kNone,      // never asked for
  kOptional,  // asked for; verified against tls_ca when presented (tls_ca required)
  kRequired,  // the handshake fails without one that chains to tls_ca
};

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
  ClientCertMode client_cert = ClientCertMode::kDefault;
  // A TLS handshake not finished this long after accept closes the connection.
  std::chrono::milliseconds handshake_timeout{10000};
  // Connections still handshaking, on the listener and from one client
  // address; a new connection over either cap is closed at once.
  int max_handshakes = 1024;
  int max_handshakes_per_address = 128;
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

  struct State;  // shared with the connections

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
