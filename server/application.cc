#include "server/application.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "api/challenge_response_routes.h"
#include "api/keylime/agent_client.h"
#include "api/keylime/keylime_api.h"
#include "api/keylime/registrar_routes.h"
#include "api/keylime/verifier_routes.h"
#include "common/log.h"
#include "common/metrics.h"
#include "service/keylime/agent_evidence.h"
#include "store/redis/redis_pool.h"
#include "verifiers/builtin.h"

namespace attestd {

namespace {

// --handshake-timeout, --max-handshakes, --max-handshakes-per-address: the
// same for every listener (they matter only where it serves TLS).
void SetHandshakeLimits(const Config& config, api::ListenerOptions* lo) {
  lo->handshake_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(config.handshake_timeout_s * 1000));
  lo->max_handshakes = config.max_handshakes;
  lo->max_handshakes_per_address = config.max_handshakes_per_address;
}

}  // namespace

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
  // The session service's task threads (one per core) wait too: on the
  // queue, or on a failed session.
  int task_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  so.pool_size =
      config.threads + config.workers + task_threads + 3 * std::min(config.threads, 2) + 1;
  so.reclaim_after_ms = static_cast<int>(config.reclaim_after_s * 1000);
  so.max_sessions = config.max_sessions;
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
  opts.task_threads = task_threads;
  app->service_ = std::make_shared<SessionService>(app->stores_.sessions, app->stores_.queue,
                                                   app->registry_, opts, app->signer_);
  app->service_->set_attesters(app->stores_.attesters);
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
  SetHandshakeLimits(config, &lo);
  lo.tls_cert = config.tls_cert;
  lo.tls_key = config.tls_key;
  lo.tls_ca = config.tls_ca;
  auto router = api::MakeChallengeResponseRouter(app->service_, cr);
  if (config.rate_limit > 0) {
    app->rate_limiter_ =
        std::make_shared<api::RateLimiter>(config.rate_limit, config.rate_limit_burst);
  }
  app->LimitRate(*router, {{"POST", "/challenge-response/v1/newSession"},
                           {"POST", "/challenge-response/v1/session/:id"}});
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
    SetHandshakeLimits(config, &lo);
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
  options.mode = ParseVerifierMode(config_.verifier_mode).value_or(VerifierMode::kPull);
  options.logs = logs_;
  keylime_ = MakeKeylimeServices(stores_, service_, registry_, options);
  if (config_.verifier_listen == "none") return Status::Ok();
  api::ListenerOptions lo;
  lo.name = "verifier";
  lo.address = config_.verifier_listen;
  lo.threads = std::min(config_.threads, 2);
  lo.max_body = config_.max_body;
  lo.idle_timeout = std::chrono::seconds(config_.idle_timeout_s);
  SetHandshakeLimits(config_, &lo);
  auto tls = ConfigureListenerTls("verifier", "verifier", "--insecure-verifier",
                                  config_.insecure_verifier, config_.verifier_tls_cert,
                                  config_.verifier_tls_key, config_.verifier_tls_ca, &lo);
  if (!tls.ok()) return tls.status();
  verifier_tls_ = std::move(*tls);
  // As Keylime's verifier: the certificate is optional at the handshake
  // (push agents have none; they present their PoP bearer token) and
  // required by the tenant's admin routes.
  if (!config_.insecure_verifier) lo.client_cert = api::ClientCertMode::kOptional;
  auto router = api::MakeVerifierRouter(keylime_, verifier_address_);
  // The push model's counterparts of newSession and the evidence POST.
  LimitRate(*router, {{"POST", "/:api_version/agents/:id/attestations"},
                      {"PATCH", "/:api_version/agents/:id/attestations/:index"}});
  router->set_enforce_client_cert(!config_.insecure_verifier);
  GlobalMetrics().RegisterRoutes(lo.name, router->Patterns());
  api::RequestObserver observer;
  if (config_.metrics) {
    observer = [](const std::string& route, int status, double secs) {
      GlobalMetrics().ObserveRequest("verifier", route, status, secs);
    };
  }
  verifier_http_ = std::make_unique<api::HttpServer>(lo, router, observer);
  return CreatePull();
}

Status Application::CreatePull() {
  api::keylime::AgentClientOptions co;
  co.client_cert =
      config_.agent_client_cert.empty() ? verifier_tls_.client_cert : config_.agent_client_cert;
  co.client_key =
      config_.agent_client_key.empty() ? verifier_tls_.client_key : config_.agent_client_key;
  co.timeout_ms = config_.agent_timeout_s * 1000;
  // A connection per agent outlives its quote interval and retries; half
  // the file descriptors at most, the rest are the listeners'.
  co.idle_timeout_ms = std::max<int64_t>(60000, 2 * config_.quote_interval_s * 1000 + 10000);
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
    co.max_idle = std::min<size_t>(co.max_idle, files.rlim_cur / 2);
  }
  auto client = api::keylime::MakeHttpsAgentClient(co);
  if (!client.ok()) return InvalidArgument("--agent-client-cert: " + client.status().message());
  RevocationOptions ro;
  ro.webhook = config_.revocation_notifiers.find("webhook") != std::string::npos;
  ro.agents = config_.revocation_notifiers.find("agent") != std::string::npos;
  ro.webhook_url = config_.webhook_url;
  ro.max_retries = config_.max_retries;
  ro.retry_interval_s = config_.retry_interval_s;
  ro.exponential_backoff = config_.exponential_backoff;
  auto notifier = std::make_shared<RevocationNotifier>(stores_.agents, *client, ro);
  PullOptions po;
  po.verifier_id = config_.verifier_id;
  po.quote_interval_ms = config_.quote_interval_s * 1000;
  po.max_retries = config_.max_retries;
  po.retry_interval_s = config_.retry_interval_s;
  po.exponential_backoff = config_.exponential_backoff;
  po.threads = config_.pull_threads;
  po.max_polls = config_.pull_concurrency;
  po.request_timeout_ms = config_.agent_timeout_s * 1000;
  po.api_versions = api::keylime::SupportedVersions();
  keylime_.pull = std::make_shared<PullService>(stores_.agents, stores_.pull, service_, *client,
                                                std::move(notifier), po);
  keylime_.agents->set_on_activated(
      [pull = std::weak_ptr<PullService>(keylime_.pull)](const std::string& id) {
        if (auto p = pull.lock()) p->Track(id);
      });
  return Status::Ok();
}

void Application::LimitRate(api::Router& router,
                            const std::vector<std::pair<std::string, std::string>>& routes) {
  if (!rate_limiter_) return;
  for (const auto& [method, pattern] : routes) {
    if (!router.Guard(method, pattern, api::RateLimiter::Guard(rate_limiter_, &router))) {
      LogWarn("--rate-limit: no such route", {{"method", method}, {"route", pattern}});
    }
  }
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
  m.AddGauge("attestd_max_sessions", "The --max-sessions cap (0: none).", "gauge",
             [cap = config_.max_sessions] { return static_cast<double>(cap); });
  std::weak_ptr<api::RateLimiter> limiter = rate_limiter_;
  m.AddGauge("attestd_rate_limited_total",
             "Requests refused with 429 by --rate-limit (newSession, evidence POSTs).", "counter",
             [limiter] {
               auto l = limiter.lock();
               return l ? static_cast<double>(l->refused()) : 0.0;
             });
  m.AddGauge("attestd_rate_limit_clients", "Client addresses with a --rate-limit bucket.", "gauge",
             [limiter] {
               auto l = limiter.lock();
               return l ? static_cast<double>(l->clients()) : 0.0;
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
  if (keylime_.pull) keylime_.pull->Start();
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
  // Polls appraise through the session engine's tasks and the workers, and
  // a poll waits for its appraisal: stop polling before either.
  if (keylime_.pull) keylime_.pull->Stop();
  if (service_) service_->StopTasks();
  if (workers_) workers_->Stop();
}

}  // namespace attestd
