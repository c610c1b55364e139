#include "server/application.h"

#include <unistd.h>

#include "api/challenge_response_routes.h"
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
  return app;
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
  if (workers_) workers_->Stop();
}

}  // namespace attestd
