// Application: wires configuration, stores, verifiers, services, workers and
// listeners into one running attestd, and takes them down in order.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/http_server.h"
#include "api/keylime/verifier_routes.h"
#include "api/rate_limiter.h"
#include "server/config.h"
#include "server/tls_material.h"
#include "service/keylime/keylime_services.h"
#include "service/registrar_service.h"
#include "service/session_service.h"
#include "service/worker_pool.h"
#include "store/stores.h"
#include "verifiers/registry.h"

namespace attestd {

class Application {
 public:
  // Builds everything without opening ports. `registry` replaces the
  // built-in verifiers (tests register their own); null means built-ins.
  static Result<std::unique_ptr<Application>> Create(const Config& config,
                                                     std::shared_ptr<Registry> registry = nullptr);
  ~Application();

  // Starts workers and listeners.
  Status Start();

  // Stops accepting work, lets in-flight requests and appraisals finish
  // (bounded by `grace`), then closes everything.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(10000));

  int port() const { return http_ ? http_->port() : 0; }
  SessionService& sessions() { return *service_; }
  // The stores this process uses (e.g. to enrol an attester directly).
  const Stores& stores() const { return stores_; }
  // Keylime registrar: bound ports (0 when the listener is off), the
  // service, and the TLS files of the admin listener (generated or given).
  int registrar_port() const { return registrar_http_ ? registrar_http_->port() : 0; }
  int registrar_admin_port() const {
    return registrar_admin_http_ ? registrar_admin_http_->port() : 0;
  }
  RegistrarService& registrar() { return *registrar_; }
  const TlsMaterial& registrar_tls() const { return registrar_tls_; }
  // Keylime verifier: bound port (0 when off) and its TLS files (none
  // with --insecure-verifier).
  int verifier_port() const { return verifier_http_ ? verifier_http_->port() : 0; }
  const TlsMaterial& verifier_tls() const { return verifier_tls_; }
  const KeylimeServices& keylime() const { return keylime_; }
  // The verifiers (e.g. for pull attestations' AppraiseAgentEvidence).
  const Registry& registry() const { return *registry_; }

 private:
  Application() = default;
  void RegisterMetrics(const std::string& listener, const api::Router& router);
  // Puts --rate-limit in front of these (method, pattern) routes of `router`.
  void LimitRate(api::Router& router,
                 const std::vector<std::pair<std::string, std::string>>& routes);
  Status CreateRegistrar();
  Status CreateVerifier();
  // The pull model: agent client, revocation notifier, poller.
  Status CreatePull();
  // Sets `lo`'s TLS files for a listener that requires client certificates:
  // the given ones, or those generated under --data-dir (`file_name`
  // names its server certificate); none when `insecure` (logged as a
  // warning naming `flag`).
  Result<TlsMaterial> ConfigureListenerTls(const std::string& file_name, const std::string& what,
                                           const std::string& flag, bool insecure,
                                           const std::string& cert, const std::string& key,
                                           const std::string& ca, api::ListenerOptions* lo) const;

  Config config_;
  Stores stores_;
  std::shared_ptr<Registry> registry_;
  std::shared_ptr<SessionService> service_;
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<api::HttpServer> http_;
  std::shared_ptr<api::RateLimiter> rate_limiter_;  // null: --rate-limit off
  std::shared_ptr<ResultSigner> signer_;
  std::shared_ptr<RegistrarService> registrar_;
  std::unique_ptr<api::HttpServer> registrar_http_;
  std::unique_ptr<api::HttpServer> registrar_admin_http_;
  TlsMaterial registrar_tls_;
  KeylimeServices keylime_;
  // Compiled runtime policies, shared by the agent evidence verifier and
  // the Keylime services.
  std::shared_ptr<LogAppraiser> logs_;
  std::shared_ptr<api::ListenerAddress> verifier_address_ =
      std::make_shared<api::ListenerAddress>();
  std::unique_ptr<api::HttpServer> verifier_http_;
  TlsMaterial verifier_tls_;
  bool stopped_ = false;
};

}  // namespace attestd
