#include "server/application.h"

#include <unistd.h>

#include <algorithm>

#include "api/challenge_response_routes.h"
#include "api/registrar_routes.h"
#include "common/log.h"
#include "common/metrics.h"
#include "store/redis/redis_pool.h"
#include "verifiers/builtin.h"

namespace attestd {

Result<std::unique_ptr<Application>> Application::Create(const Config& config,
                                                         std::shared_ptr<Registry> registry) {
  std::unique_ptr<Application> app(new Application());
  app->config_ = config;

  StoreOptions so;
  so.url = config.store;
  // One connection per HTTP thread and per worker, plus one spare for
  // health checks, so no request waits for a connection.
  so.pool_size = config.threads + config.workers + 1;
  so.reclaim_after_ms = static_cast<int>(config.reclaim_after_s * 1000);
  auto stores = OpenStores(so);
  if (!stores.ok()) return InvalidArgument("--store: " + stores.status().message());
  app->stores_ = std::move(*stores);

  if (!registry) {
    registry = std::make_shared<Registry>();
    VerifierDeps deps;
    deps.attesters = app->stores_.attesters;
    if (Status st = RegisterBuiltinVerifiers(*registry, deps); !st.ok()) return st;
  }
  app->registry_ = std::move(registry);

  ResultSignerOptions signer_options;
  signer_options.key_path = config.result_key;
  signer_options.previous_key_path = config.result_key_previous;
  auto signer = ResultSigner::Create(signer_options);
  if (!signer.ok()) return signer.status();
  app->signer_ = std::move(*signer);
  if (app->signer_->ephemeral()) {
    LogWarn("no --result-key: results are signed with an ephemeral P-256 key that changes at "
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
  return app;
}

Status Application::CreateRegistrar() {
  const Config& config = config_;
  if (config.registrar_listen == "none" && config.registrar_admin_listen == "none") return Status::Ok();
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
    if (config.insecure_registrar) {
      LogWarn("--insecure-registrar: the registrar admin listener serves plain HTTP without client "
              "certificates; anyone who reaches it can list and delete agents",
              {{"address", config.registrar_admin_listen}});
    } else if (!config.registrar_tls_cert.empty()) {
      lo.tls_cert = config.registrar_tls_cert;
      lo.tls_key = config.registrar_tls_key;
      lo.tls_ca = config.registrar_tls_ca;
      registrar_tls_.ca_cert = config.registrar_tls_ca;
      registrar_tls_.server_cert = config.registrar_tls_cert;
      registrar_tls_.server_key = config.registrar_tls_key;
    } else {
      std::string host;
      int port = 0;
      api::SplitHostPort(config.registrar_admin_listen, &host, &port);
      auto material = EnsureTlsMaterial(config.data_dir, "registrar", {host});
      if (!material.ok()) return InvalidArgument("--data-dir: " + material.status().message());
      registrar_tls_ = std::move(*material);
      lo.tls_cert = registrar_tls_.server_cert;
      lo.tls_key = registrar_tls_.server_key;
      lo.tls_ca = registrar_tls_.ca_cert;
      LogInfo(registrar_tls_.generated ? "registrar admin TLS: generated a CA and certificates"
                                       : "registrar admin TLS: using the generated CA and certificates",
              {{"ca", registrar_tls_.ca_cert},
               {"client_cert", registrar_tls_.client_cert},
               {"client_key", registrar_tls_.client_key}});
    }
    registrar_admin_http_ = std::make_unique<api::HttpServer>(lo, router, observer);
  }
  return Status::Ok();
}

void Application::RegisterMetrics(const std::string& listener, const api::Router& router) {
  Metrics& m = GlobalMetrics();
  m.set_enabled(config_.metrics);
  m.RegisterRoutes(listener, router.Patterns());
  m.RegisterMediaTypes(registry_->MediaTypes());
  // Gauges read this Application's objects (a later one in the same
  // process, as in tests, takes them over).
  std::weak_ptr<WorkQueue> queue = stores_.queue;
  m.AddGauge("attestd_queue_depth", "Appraisals queued or in progress.", "gauge", [queue] {
    auto q = queue.lock();
    return q ? static_cast<double>(q->Depth()) : 0.0;
  });
  std::weak_ptr<RedisPool> pool = stores_.redis;
  m.AddGauge("attestd_store_errors_total", "Store operations that could not reach Redis.", "counter", [pool] {
    auto p = pool.lock();
    return p ? static_cast<double>(p->errors()) : 0.0;
  });
  m.AddGauge("attestd_store_reconnects_total", "Redis connections re-established.", "counter", [pool] {
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
  if (!stores_.sessions->Ping().ok()) {
    LogWarn("store unreachable at start-up; requests answer 503 until it is back",
            {{"store", config_.store.rfind("redis", 0) == 0 ? "redis" : config_.store}});
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
  for (auto* listener : {registrar_http_.get(), registrar_admin_http_.get()}) {
    if (!listener) continue;
    listener->Drain(grace);
    listener->Stop();
  }
  if (workers_) workers_->Stop();
}

}  // namespace attestd
