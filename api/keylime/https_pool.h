// HttpsPool: blocking HTTP/1.1 requests, plain or TLS, over connections
// kept alive per peer. The pull model's client sends one request per agent
// per quote interval; a new TLS connection each time (two RSA signatures,
// an ECDHE exchange) costs several times the quote's appraisal, so
// connections are reused when the peer keeps them open.
//
// Promises:
// - A connection is reused only for the same host, port, scheme and
//   trusted certificate (compared by SHA-256), so a peer that registered a
//   new certificate is reached on a new connection verified against it.
// - A trusted certificate given: it is the only anchor (partial chain, no
//   hostname check), and the pool's client certificate is presented.
//   None given: the system's CAs and the host name are checked (SNI sent),
//   and no client certificate is presented.
// - Every step of one call (resolve, connect, handshake, write, read)
//   shares one deadline, `timeout_ms`. A reused connection that fails
//   before any answer arrived (the peer closed it while idle) is replaced
//   by a new one once, within the same deadline.
// - A connection goes back to the pool only after a complete answer that
//   allows keep-alive; at most `max_idle_per_peer` per peer and `max_idle`
//   in all are kept, each for at most `idle_timeout_ms`.
// - Thread-safe. Call blocks the calling thread, never the pool's;
//   CallAsync blocks neither and answers on one of the pool's threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace attestd::api::keylime {

struct PoolOptions {
  std::string client_cert_pem;  // chain, PEM; empty: none
  std::string client_key_pem;
  int64_t timeout_ms = 10000;
  size_t max_body = 64 * 1024 * 1024;
  int64_t idle_timeout_ms = 60000;  // 0: no connection is kept
  size_t max_idle = 16384;
  size_t max_idle_per_peer = 2;
  int threads = 2;  // the pool's I/O threads
};

struct PoolRequest {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;        // path and query
  std::string trusted_cert;  // PEM; empty: system CAs and host name
  std::string method = "GET";
  std::string body;  // sent as application/json when not empty
};

struct PoolReply {
  int status = 0;
  std::string body;
};

class HttpsPool {
 public:
  // kInvalidArgument when the client certificate or key is not usable.
  static Result<std::unique_ptr<HttpsPool>> Create(const PoolOptions& options);
  virtual ~HttpsPool() = default;

  // kUnavailable: no answer (refused, reset, TLS failure, timeout);
  // kInvalidArgument: the answer is over max_body, or trusted_cert is not
  // a PEM certificate. Any HTTP status is a reply.
  virtual Result<PoolReply> Call(const PoolRequest& request) = 0;
  // Call's answer handed to `done`, exactly once, on a pool thread (it must
  // not block). Answers still due when the pool is destroyed are dropped.
  using Done = std::function<void(Result<PoolReply>)>;
  virtual void CallAsync(const PoolRequest& request, Done done) = 0;

  // Connections kept open now (tests, metrics).
  virtual size_t idle() const = 0;
  // Connections opened since creation.
  virtual uint64_t opened() const = 0;
};

}  // namespace attestd::api::keylime
