#include "server/application.h"

#include <unistd.h>

#include <algorithm>

#include "api/challenge_response_routes.h"
#include "api/keylime/registrar_routes.h"
#include "api/keylime/verifier_routes.h"
#include "common/log.h"
#include "common/metrics.h"
#include "service/keylime/agent_evidence.h"
#include "store/redis/redis_pool.h"
#include "verifiers/builtin.h"

namespace attestd {

Result<std::unique_ptr<Application>> Application::Create(const Config& config,
                                                         std::shared_ptr<Registry> registry) {
  std::unique_ptr<Application> app(new Application());
  app->config_ = config;

  StoreOptions so;
  so.url = config.store;
  so.password = config.store_password;
  // One connection per thread that may wait on the store: the session
  // listener's, the workers', up to 2 for each of the three Keylime
  // listeners (registrar, registrar admin, verifier), and the pipeline's,
  // so no request waits for a connection. Connections open on first use,
  // so a listener that is off costs nothing.
  so.pool_size = config.threads + config.workers + 3 * std::min(config.threads, 2) + 1;
  so.reclaim_after_ms = static_cast<int>(config.reclaim_after_s * 1000);
  auto stores = OpenStores(so);
  if (!stores.ok()) return InvalidArgument("--store: " + stores.status().message());
  app->stores_ = std::move(*stores);

  if (!registry) {
    registry = std::make_shared<Registry>();
    VerifierContext context;
    context.attesters = app->stores_.attesters;
    if (Status st = RegisterBuiltinVerifiers(*registry, context); !st.ok()) return st;
  }
  // Keylime agents' quotes with their IMA / UEFI logs: one registry step
  // (when the registry has the TPM quote verifier it builds on).
  app->logs_ = std::make_shared<LogAppraiser>(app->stores_.policies);
  if (registry->Find(tpm::kQuotePartsType) && !registry->Find(kAgentEvidenceType)) {
    Status st = RegisterAgentEvidenceVerifier(*registry, app->stores_.agents, app->stores_.policies,
                                              app->logs_);
    if (!st.ok()) return st;
  }
  app->registry_ = std::move(registry);

  ResultSignerOptions signer_options;
  signer_options.key_path = config.result_key;
  signer_options.previous_key_path = config.result_key_previous;
  auto signer = ResultSigner::Create(signer_options);
  if (!signer.ok()) return signer.status();
  app->signer_ = std::move(*signer);
  if (app->signer_->ephemeral()) {
    LogWarn(
        "no --result-key: results are signed with an ephemeral P-256 key that changes at "
        "every start; relying parties must fetch it from /.well-known/jwks.json",
        {{"kid", app->signer_->kid()}});
  }

  SessionServiceOptions opts;
  opts.session_ttl_ms = config.session_ttl_s * 1000;
  opts.result_retention_ms = config.result_retention_s * 1000;
  opts.default_nonce_size = config.default_nonce_size;
  app->service_ = std::make_shared<SessionService>(app->stores_.sessions, app->stores_.queue,
                                                   app->registry_, opts, app->signer_);
  app->workers_ = std::make_unique<WorkerPool>(app->service_, app->stores_.queue);

  api::ChallengeResponseOptions cr;
  cr.format = config.session_format == "veraison" ? api::SessionFormat::kVeraison
                                                  : api::SessionFormat::kAttestd;
  api::ListenerOptions lo;
  lo.name = "challenge-response";
  lo.address = config.listen;
  lo.threads = config.threads;
  lo.max_body = config.max_body;
  lo.idle_timeout = std::chrono::seconds(config.idle_timeout_s);
  lo.tls_cert = config.tls_cert;
  lo.tls_key = config.tls_key;
  lo.tls_ca = config.tls_ca;
  auto router = api::MakeChallengeResponseRouter(app->service_, cr);
  app->RegisterMetrics(lo.name, *router);
  api::RequestObserver observer;
  if (config.metrics) {
    observer = [name = lo.name](const std::string& route, int status, double secs) {
      GlobalMetrics().ObserveRequest(name, route, status, secs);
    };
  }
  app->http_ = std::make_unique<api::HttpServer>(lo, router, std::move(observer));
  if (Status st = app->CreateRegistrar(); !st.ok()) return st;
  if (Status st = app->CreateVerifier(); !st.ok()) return st;
  return app;
}

Result<TlsMaterial> Application::ConfigureListenerTls(const std::string& file_name,
                                                      const std::string& what,
                                                      const std::string& flag, bool insecure,
                                                      const std::string& cert,
                                                      const std::string& key, const std::string& ca,
                                                      api::ListenerOptions* lo) const {
  TlsMaterial tls;
  if (insecure) {
    LogWarn(flag + ": the " + what +
                " listener serves plain HTTP without client certificates; "
                "anyone who reaches it can use its admin routes",
            {{"address", lo->address}});
    return tls;
  }
  if (!cert.empty()) {
    tls.ca_cert = ca;
    tls.server_cert = cert;
    tls.server_key = key;
  } else {
    std::string host;
    int port = 0;
    api::SplitHostPort(lo->address, &host, &port);
    auto material = EnsureTlsMaterial(config_.data_dir, file_name, {host});
    if (!material.ok()) return InvalidArgument("--data-dir: " + material.status().message());
    tls = std::move(*material);
    LogInfo(
        tls.generated ? what + " TLS: generated a CA and certificates"
                      : what + " TLS: using the generated CA and certificates",
        {{"ca", tls.ca_cert}, {"client_cert", tls.client_cert}, {"client_key", tls.client_key}});
  }
  lo->tls_cert = tls.server_cert;
  lo->tls_key = tls.server_key;
  lo->tls_ca = tls.ca_cert;
  return tls;
}

Status Application::CreateRegistrar() {
  const Config& config = config_;
  if (config.registrar_listen == "none" && config.registrar_admin_listen == "none")
    return Status::Ok();
  RegistrarServiceOptions options;
  if (!config.tpm_cert_store.empty()) {
    auto store = tpm::EkCertificateStore::LoadDirectory(config.tpm_cert_store);
    if (!store.ok()) return InvalidArgument("--tpm-cert-store: " + store.status().message());
    options.ek_cert_store = std::move(*store);
  }
  registrar_ = std::make_shared<RegistrarService>(stores_.registrar, stores_.attesters, options);

  auto listener_options = [&](const std::string& name, const std::string& address) {
    api::ListenerOptions lo;
    lo.name = name;
    lo.address = address;
    lo.threads = std::min(config.threads, 2);
    lo.max_body = config.max_body;
    lo.idle_timeout = std::chrono::seconds(config.idle_timeout_s);
    return lo;
  };
  auto observer_for = [&](const std::string& name, const api::Router& router) {
    GlobalMetrics().RegisterRoutes(name, router.Patterns());
    api::RequestObserver observer;
    if (config.metrics) {
      observer = [name](const std::string& route, int status, double secs) {
        GlobalMetrics().ObserveRequest(name, route, status, secs);
      };
    }
    return observer;
  };

  if (config.registrar_listen != "none") {
    auto router = api::MakeRegistrarPublicRouter(registrar_);
    auto observer = observer_for("registrar", *router);
    registrar_http_ = std::make_unique<api::HttpServer>(
        listener_options("registrar", config.registrar_listen), router, observer);
  }
  if (config.registrar_admin_listen != "none") {
    auto router = api::MakeRegistrarAdminRouter(registrar_);
    auto observer = observer_for("registrar-admin", *router);
    api::ListenerOptions lo = listener_options("registrar-admin", config.registrar_admin_listen);
    auto tls = ConfigureListenerTls("registrar", "registrar admin", "--insecure-registrar",
                                    config.insecure_registrar, config.registrar_tls_cert,
                                    config.registrar_tls_key, config.registrar_tls_ca, &lo);
    if (!tls.ok()) return tls.status();
    registrar_tls_ = std::move(*tls);
    registrar_admin_http_ = std::make_unique<api::HttpServer>(lo, router, observer);
  }
  return Status::Ok();
}

Status Application::CreateVerifier() {
  // Always: this process's workers may appraise push attestations another
  // process's verifier opened (shared Redis), and the service's session
  // hook records their outcome.
  KeylimeOptions options;
  options.attestation.quote_interval_s = config_.quote_interval_s;
  options.logs = logs_;
  keylime_ = MakeKeylimeServices(stores_, service_, registry_, options);
  if (config_.verifier_listen == "none") return Status::Ok();
  api::ListenerOptions lo;
  lo.name = "verifier";
  lo.address = config_.verifier_listen;
  lo.threads = std::min(config_.threads, 2);
  lo.max_body = config_.max_body;
  lo.idle_timeout = std::chrono::seconds(config_.idle_timeout_s);
  auto tls = ConfigureListenerTls("verifier", "verifier", "--insecure-verifier",
                                  config_.insecure_verifier, config_.verifier_tls_cert,
                                  config_.verifier_tls_key, config_.verifier_tls_ca, &lo);
  if (!tls.ok()) return tls.status();
  verifier_tls_ = std::move(*tls);
  auto router = api::MakeVerifierRouter(keylime_, verifier_address_);
  GlobalMetrics().RegisterRoutes(lo.name, router->Patterns());
  api::RequestObserver observer;
  if (config_.metrics) {
    observer = [](const std::string& route, int status, double secs) {
      GlobalMetrics().ObserveRequest("verifier", route, status, secs);
    };
  }
  verifier_http_ = std::make_unique<api::HttpServer>(lo, router, observer);
  return Status::Ok();
}

void Application::RegisterMetrics(const std::string& listener, const api::Router& router) {
  Metrics& m = GlobalMetrics();
  m.set_enabled(config_.metrics);
  m.RegisterRoutes(listener, router.Patterns());
  m.RegisterMediaTypes(registry_->AllMediaTypes());
  // Gauges read this Application's objects (a later one in the same
  // process, as in tests, takes them over).
  std::weak_ptr<WorkQueue> queue = stores_.queue;
  m.AddGauge("attestd_queue_depth", "Appraisals queued or in progress.", "gauge", [queue] {
    auto q = queue.lock();
    return q ? static_cast<double>(q->Depth()) : 0.0;
  });
  std::weak_ptr<RedisPool> pool = stores_.redis;
  m.AddGauge("attestd_store_errors_total", "Store operations that could not reach Redis.",
             "counter", [pool] {
               auto p = pool.lock();
               return p ? static_cast<double>(p->errors()) : 0.0;
             });
  m.AddGauge("attestd_store_reconnects_total", "Redis connections re-established.", "counter",
             [pool] {
               auto p = pool.lock();
               return p ? static_cast<double>(p->reconnects()) : 0.0;
             });
}

Application::~Application() { Shutdown(std::chrono::milliseconds(2000)); }

Status Application::Start() {
  workers_->Start(config_.workers);
  if (Status st = http_->Start(); !st.ok()) return st;
  if (registrar_http_) {
    if (Status st = registrar_http_->Start(); !st.ok()) return st;
  }
  if (registrar_admin_http_) {
    if (Status st = registrar_admin_http_->Start(); !st.ok()) return st;
  }
  if (verifier_http_) {
    if (Status st = verifier_http_->Start(); !st.ok()) return st;
    // Tenants send delete and reactivate to the address agents report:
    // the port really bound (port 0 picks one).
    std::string host;
    int port = 0;
    api::SplitHostPort(config_.verifier_listen, &host, &port);
    verifier_address_->Set(host, verifier_http_->port());
  }
  if (!stores_.sessions->Ping().ok()) {
    LogWarn("store unreachable at start-up; requests answer 503 until it is back",
            {{"store", RedactStoreUrl(config_.store)}});
  }
  return Status::Ok();
}

void Application::Shutdown(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  if (http_) {
    bool drained = http_->Drain(grace);
    if (!drained) LogWarn("shutdown: requests still in flight after the grace period");
    http_->Stop();
  }
  for (auto* listener :
       {registrar_http_.get(), registrar_admin_http_.get(), verifier_http_.get()}) {
    if (!listener) continue;
    listener->Drain(grace);
    listener->Stop();
  }
  if (workers_) workers_->Stop();
}

}  // namespace attestd
