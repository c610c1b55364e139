#include "api/http_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <thread>

#include "common/log.h"

namespace attestd::api {

using namespace Pistache;

struct HttpServer::State {
  ListenerOptions options;
  std::shared_ptr<const Router> router;
  RequestObserver observer;
  std::atomic<int> in_flight{0};
  std::atomic<bool> draining{false};
};

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  std::string h = address.substr(0, colon);
  if (h.front() == '[') {
    if (h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  }
  std::string p = address.substr(colon + 1);
  if (p.size() > 5 || !std::all_of(p.begin(), p.end(), ::isdigit)) return false;
  int n = std::stoi(p);
  if (n > 65535) return false;
  *host = h;
  *port = n;
  return true;
}

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

namespace {

// No route needs more; anything longer is abuse or a client bug.
constexpr size_t kMaxTargetBytes = 8 * 1024;
constexpr size_t kMaxHeaderBytes = 64 * 1024;

// Pistache serializes only typed headers in responses; this one carries any
// name and value the routes chose.
class AnyHeader : public Http::Header::Header {
 public:
  AnyHeader(std::string name, std::string value) : name_(std::move(name)), value_(std::move(value)) {}
  const char* name() const override { return name_.c_str(); }
  uint64_t hash() const override { return Http::Header::detail::hash(name_.c_str()); }
  void write(std::ostream& os) const override { os << value_; }

 private:
  std::string name_, value_;
};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

// HTTP/1.1 persists unless the client says close; HTTP/1.0 only on request.
bool ClientWantsKeepAlive(const Http::Request& req) {
  auto conn = req.headers().tryGet<Http::Header::Connection>();
  if (req.version() == Http::Version::Http10) {
    return conn && conn->control() == Http::ConnectionControl::KeepAlive;
  }
  return !(conn && conn->control() == Http::ConnectionControl::Close);
}

std::string ClientCertDer(const Http::ResponseWriter& writer) {
  auto peer = writer.getPeer();
  if (!peer || !peer->ssl()) return "";
  X509* cert = SSL_get1_peer_certificate(static_cast<SSL*>(peer->ssl()));
  if (!cert) return "";
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  std::string out;
  if (len > 0) out.assign(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  X509_free(cert);
  return out;
}

// Returns false (and fills `error`) when the query string is malformed.
bool DecodeQuery(const Http::Request& req, HttpRequest* out, std::string* error) {
  for (const std::string& name : req.query().parameters()) {
    auto value = req.query().get(name);
    auto k = PercentDecode(name);
    auto v = PercentDecode(value.value_or(""));
    if (!k || !v) {
      *error = "malformed percent-encoding in the query string";
      return false;
    }
    out->query.emplace(std::move(*k), std::move(*v));
  }
  return true;
}

class Handler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(Handler)

  explicit Handler(std::shared_ptr<HttpServer::State> state) : state_(std::move(state)) {}

  // The answer may come from another thread (an asynchronous route): the
  // writer then travels with it, and in_flight counts the request until it
  // is sent, so Drain and Stop wait for it.
  void onRequest(const Http::Request& req, Http::ResponseWriter writer) override {
    auto start = std::chrono::steady_clock::now();
    state_->in_flight.fetch_add(1, std::memory_order_relaxed);
    HttpRequest r;
    std::optional<HttpResponse> refused = Prepare(req, writer, &r);
    auto shared_writer = std::make_shared<Http::ResponseWriter>(std::move(writer));
    auto complete = [state = state_, shared_writer, keep_alive = ClientWantsKeepAlive(req),
                     method = r.method, start](Router::Outcome out) {
      try {
        Send(out.response, keep_alive && !state->draining.load(), *shared_writer);
      } catch (const std::exception& e) {  // e.g. the client has gone
        LogInfo("response not sent", {{"route", out.route}, {"what", e.what()}});
      }
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      Finish(*state, method, out.route, out.response.status, secs);
      state->in_flight.fetch_sub(1, std::memory_order_relaxed);
    };
    if (refused) return complete({std::move(*refused), "unmatched"});
    state_->router->DispatchAsync(r, std::move(complete));
  }

 private:
  // Fills `r` from `req`, or answers the request at once (refusals).
  std::optional<HttpResponse> Prepare(const Http::Request& req, Http::ResponseWriter& writer,
                                      HttpRequest* r) {
    const Router& router = *state_->router;
    r->method = Http::methodString(req.method());
    if (state_->draining.load()) return router.errors()(503, "server is shutting down");
    if (req.resource().size() > kMaxTargetBytes) return router.errors()(414, "request target too long");
    size_t header_bytes = 0;
    for (const auto& [name, raw] : req.headers().rawList()) header_bytes += name.size() + raw.value().size();
    if (header_bytes > kMaxHeaderBytes) return router.errors()(431, "request headers too large");
    r->path = req.resource();
    std::string error;
    if (!DecodeQuery(req, r, &error)) return router.errors()(400, error);
    for (const auto& [name, raw] : req.headers().rawList()) {
      r->headers.emplace(Lower(name), raw.value());
    }
    if (req.body().size() > state_->options.max_body) {
      return router.errors()(413, "body larger than " + std::to_string(state_->options.max_body) +
                                      " bytes");
    }
    r->body = req.body();
    r->peer = req.address().host();
    if (!state_->options.tls_ca.empty()) r->client_cert_der = ClientCertDer(writer);
    return std::nullopt;
  }

  static void Send(const HttpResponse& resp, bool keep_alive, Http::ResponseWriter& writer) {
    auto& headers = writer.headers();
    headers.remove<Http::Header::Connection>();
    headers.add<Http::Header::Connection>(keep_alive ? Http::ConnectionControl::KeepAlive
                                                     : Http::ConnectionControl::Close);
    for (const auto& [k, v] : resp.headers) headers.add(std::make_shared<AnyHeader>(k, v));
    if (!resp.content_type.empty()) {
      headers.add(std::make_shared<AnyHeader>("Content-Type", resp.content_type));
    }
    writer.send(static_cast<Http::Code>(resp.status), resp.body);
  }

  static void Finish(const HttpServer::State& state, const std::string& method,
                     const std::string& route, int status, double secs) {
    if (state.observer) state.observer(route, status, secs);
    LogLevel level = status >= 500 ? LogLevel::kWarn : LogLevel::kInfo;
    if (!LogEnabled(level)) return;
    std::string st = std::to_string(status);
    std::string ms = std::to_string(secs * 1000.0);
    Log(level, "request", {{"listener", state.options.name},
                           {"method", method},
                           {"route", route},
                           {"status", st},
                           {"duration_ms", ms}});
  }

  std::shared_ptr<HttpServer::State> state_;
};

}  // namespace

struct HttpServer::Impl {
  std::unique_ptr<Http::Endpoint> endpoint;
};

HttpServer::HttpServer(ListenerOptions options, std::shared_ptr<const Router> router,
                       RequestObserver observer)
    : options_(options), state_(std::make_shared<State>()), impl_(std::make_unique<Impl>()) {
  state_->options = std::move(options);
  state_->router = std::move(router);
  state_->observer = std::move(observer);
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  std::string host;
  int port = 0;
  if (!SplitHostPort(options_.address, &host, &port)) {
    return InvalidArgument("listen address must be host:port, got '" + options_.address + "'");
  }
  try {
    impl_->endpoint = std::make_unique<Http::Endpoint>(Address(host, Port(static_cast<uint16_t>(port))));
    // The library's own limit is a backstop above ours, so that a body just
    // over max_body still gets our 413 problem answer.
    size_t library_limit = options_.max_body + options_.max_body / 4 + 64 * 1024;
    impl_->endpoint->init(Http::Endpoint::options()
                              .threads(std::max(1, options_.threads))
                              .threadsName(options_.name.substr(0, 15))
                              .flags(Tcp::Options::ReuseAddr | Tcp::Options::NoDelay)
                              .maxRequestSize(library_limit)
                              .headerTimeout(options_.header_timeout)
                              .bodyTimeout(options_.body_timeout)
                              .keepaliveTimeout(options_.idle_timeout));
    if (!options_.tls_cert.empty()) {
      impl_->endpoint->useSSL(options_.tls_cert, options_.tls_key);
      if (!options_.tls_ca.empty()) impl_->endpoint->useSSLAuth(options_.tls_ca);
    }
    impl_->endpoint->setHandler(Http::make_handler<Handler>(state_));
    impl_->endpoint->serveThreaded();
  } catch (const std::exception& e) {
    impl_->endpoint.reset();
    return Unavailable("cannot listen on " + options_.address + ": " + e.what());
  }
  LogInfo("listening", {{"listener", options_.name},
                        {"address", host + ":" + std::to_string(this->port())},
                        {"tls", options_.tls_cert.empty() ? "off" : "on"}});
  return Status::Ok();
}

int HttpServer::port() const {
  return impl_->endpoint ? static_cast<int>(static_cast<uint16_t>(impl_->endpoint->getPort())) : 0;
}

bool HttpServer::Drain(std::chrono::milliseconds timeout) {
  state_->draining.store(true);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (state_->in_flight.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void HttpServer::Stop() {
  if (impl_->endpoint) {
    // Answers still on their way from another thread would write through
    // the endpoint: wait for them (each is bounded by the store's timeouts).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (state_->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    impl_->endpoint->shutdown();
    impl_->endpoint.reset();
  }
}

}  // namespace attestd::api
