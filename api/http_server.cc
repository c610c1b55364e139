#include "api/http_server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "api/http_parse.h"
#include "common/log.h"
#include "common/metrics.h"

namespace attestd::api {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

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

namespace {

constexpr std::chrono::milliseconds kWriteTimeout{30000};
// How long a closing connection may take to send its last bytes (or TLS
// close_notify) before it is cut.
constexpr std::chrono::milliseconds kLingerTimeout{2000};

std::string PeerCertDer(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return "";
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  std::string out;
  if (len > 0) out.assign(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  X509_free(cert);
  return out;
}

}  // namespace

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Both on the connection's own thread.
  virtual void CheckDeadline(Clock::time_point now) = 0;
  virtual void Abort() = 0;
};

// One io_context run by one thread, and the connections living on it.
//
// Why one io_context per thread rather than one shared by N threads with a
// strand per connection: every handler of a connection then runs on one
// thread with no strand dispatch and no locking in the scheduler
// (concurrency hint 1), and the connection's data stays in one core's cache.
// New connections are dealt round-robin, so TLS handshakes, the costly
// part, are spread over every thread. Deadlines are checked by one ticking
// timer per thread instead of a timer per connection re-armed at each
// request phase (no timer syscalls on the request path).
struct Worker {
  net::io_context ioc{1};
  net::steady_timer tick{ioc};
  std::thread thread;
  std::mutex mu;  // `live` only: insert, erase, and the tick's snapshot
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> live;
};

struct HttpServer::State {
  ListenerOptions options;
  std::shared_ptr<const Router> router;
  RequestObserver observer;
  std::atomic<int> in_flight{0};
  std::atomic<bool> draining{false};
  std::atomic<bool> stopping{false};
  std::atomic<int> running_threads{0};
  Metrics::ListenerCounters* counters = nullptr;
  std::chrono::milliseconds tick{500};
  std::unique_ptr<ssl::context> tls;             // null: plain HTTP
  std::vector<std::unique_ptr<Worker>> workers;  // destroyed after the connections
  std::unique_ptr<tcp::acceptor> acceptor;       // on workers[0]
  size_t next_worker = 0;
  int port = 0;
  // Connections still in their TLS handshake.
  std::atomic<int> handshaking{0};
  std::mutex addr_mu;
  std::unordered_map<std::string, int> handshaking_by_addr;

  void Count(std::atomic<uint64_t> Metrics::ListenerCounters::*counter) {
    if (GlobalMetrics().enabled()) (counters->*counter).fetch_add(1, std::memory_order_relaxed);
  }

  // Whether a new TLS connection from `addr` may start its handshake.
  bool AdmitHandshake(const std::string& addr) {
    if (handshaking.load(std::memory_order_relaxed) >= options.max_handshakes) {
      Count(&Metrics::ListenerCounters::refused_handshake_cap);
      return false;
    }
    std::lock_guard<std::mutex> lock(addr_mu);
    int& n = handshaking_by_addr[addr];
    if (n >= options.max_handshakes_per_address) {
      if (n == 0) handshaking_by_addr.erase(addr);
      Count(&Metrics::ListenerCounters::refused_handshake_per_address);
      return false;
    }
    ++n;
    handshaking.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  void HandshakeEnded(const std::string& addr) {
    std::lock_guard<std::mutex> lock(addr_mu);
    auto it = handshaking_by_addr.find(addr);
    if (it != handshaking_by_addr.end() && --it->second <= 0) handshaking_by_addr.erase(it);
    handshaking.fetch_sub(1, std::memory_order_relaxed);
  }

  void Finish(const std::string& method, const std::string& route, int status, double secs) const {
    if (observer) observer(route, status, secs);
    LogLevel level = status >= 500 ? LogLevel::kWarn : LogLevel::kInfo;
    if (!LogEnabled(level)) return;
    Log(level, "request",
        {{"listener", options.name},
         {"method", method},
         {"route", route},
         {"status", std::to_string(status)},
         {"duration_ms", std::to_string(secs * 1000.0)}});
  }
};

namespace {

using State = HttpServer::State;

// One client connection: TLS handshake (kTls), then requests one at a time.
// Every member is touched only on the worker's thread; answers computed on
// other threads are dispatched back to it.
template <bool kTls>
class Connection final : public ConnectionBase,
                         public std::enable_shared_from_this<Connection<kTls>> {
  using Stream = std::conditional_t<kTls, ssl::stream<tcp::socket>, tcp::socket>;
  enum class Phase { kNone, kHandshake, kIdle, kHeader, kBody, kWrite, kLinger };

 public:
  Connection(std::shared_ptr<State> state, Worker* worker, tcp::socket socket, std::string peer,
             bool counted_handshake)
      : state_(std::move(state)),
        worker_(worker),
        stream_(MakeStream(std::move(socket), *state_)),
        peer_(std::move(peer)),
        handshake_counted_(counted_handshake) {}

  ~Connection() override {
    if (handshake_counted_) state_->HandshakeEnded(peer_);
    if (in_flight_) state_->in_flight.fetch_sub(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(worker_->mu);
    worker_->live.erase(this);
  }

  void Start() {
    {
      std::lock_guard<std::mutex> lock(worker_->mu);
      worker_->live.emplace(this, this->weak_from_this());
    }
    if (state_->stopping.load()) return Close();
    if constexpr (kTls) {
      SetDeadline(state_->options.handshake_timeout, Phase::kHandshake);
      stream_.async_handshake(
          ssl::stream_base::server,
          [self = this->shared_from_this()](error_code ec) { self->OnHandshake(ec); });
    } else {
      WaitForRequest();
    }
  }

  void CheckDeadline(Clock::time_point now) override {
    if (phase_ == Phase::kNone || closed_ || now < deadline_) return;
    Phase phase = phase_;
    phase_ = Phase::kNone;
    timed_out_ = true;
    error_code ec;
    switch (phase) {
      case Phase::kHeader:
      case Phase::kBody:
        // The read completes with operation_aborted and answers 408.
        Lowest().cancel(ec);
        break;
      case Phase::kHandshake:
        state_->Count(&Metrics::ListenerCounters::tls_handshake_timeouts);
        [[fallthrough]];
      default:
        Close();
    }
  }

  void Abort() override { Close(); }

 private:
  static Stream MakeStream(tcp::socket socket, State& state) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *state.tls);
    } else {
      (void)state;
      return socket;
    }
  }

  tcp::socket& Lowest() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  void SetDeadline(std::chrono::milliseconds d, Phase phase) {
    deadline_ = Clock::now() + d;
    phase_ = phase;
  }

  void OnHandshake(error_code ec) {
    if (handshake_counted_) {
      state_->HandshakeEnded(peer_);
      handshake_counted_ = false;
    }
    if (closed_) return;
    if (ec) {
      state_->Count(&Metrics::ListenerCounters::tls_handshake_failures);
      return Close();
    }
    if constexpr (kTls) cert_der_ = PeerCertDer(stream_.native_handle());
    WaitForRequest();
  }

  // Waits for the first byte of the next request (idle time), unless a
  // pipelined one is already buffered.
  void WaitForRequest() {
    parser_.emplace();
    http_parse::Configure(*parser_, state_->options.max_body);
    timed_out_ = false;
    if (buffer_.size() > 0) return ReadHeader();
    // The first request of a connection has no idle time before it.
    SetDeadline(served_ ? state_->options.idle_timeout : state_->options.header_timeout,
                Phase::kIdle);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](error_code ec, size_t n) {
                              self->buffer_.commit(n);
                              if (ec || self->closed_) return self->Close();
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    SetDeadline(state_->options.header_timeout, Phase::kHeader);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(error_code ec) {
    if (closed_) return;
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    method_ = std::string(req.method_string());
    if (auto refused = http_parse::CheckHeader(*parser_)) {
      return Refuse(refused->status, refused->detail);
    }
    if (state_->draining.load()) return Refuse(503, "server is shutting down");
    if (parser_->is_done()) return OnRequest();
    auto expect = req[http::field::expect];
    if (beast::iequals(expect, "100-continue")) return SendContinue();
    ReadBody();
  }

  void SendContinue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    SetDeadline(kWriteTimeout, Phase::kWrite);
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = this->shared_from_this()](error_code ec, size_t) {
                       if (ec || self->closed_) return self->Close();
                       self->ReadBody();
                     });
  }

  void ReadBody() {
    SetDeadline(state_->options.body_timeout, Phase::kBody);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](error_code ec, size_t) {
                       if (self->closed_) return;
                       if (ec) return self->OnReadError(ec);
                       self->OnRequest();
                     });
  }

  void OnReadError(const error_code& ec) {
    if (timed_out_) return Refuse(408, "request not received in time");
    if (auto refused = http_parse::RefusalFor(ec, *parser_, state_->options.max_body)) {
      return Refuse(refused->status, refused->detail);
    }
    Close();  // the client went away or broke the connection
  }

  void OnRequest() {
    phase_ = Phase::kNone;  // the route may take its time
    auto& req = parser_->get();
    start_ = Clock::now();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    auto parsed = http_parse::ToHttpRequest(*parser_);
    if (auto* refused = std::get_if<http_parse::Refusal>(&parsed)) {
      return Refuse(refused->status, refused->detail, /*close=*/false);
    }
    HttpRequest r = std::move(std::get<HttpRequest>(parsed));
    r.peer = peer_;
    r.client_cert_der = cert_der_;
    in_flight_ = true;
    state_->in_flight.fetch_add(1, std::memory_order_relaxed);
    state_->router->DispatchAsync(r, [self = this->shared_from_this()](Router::Outcome out) {
      net::dispatch(self->worker_->ioc.get_executor(),
                    [self, out = std::move(out)]() mutable { self->Respond(std::move(out)); });
    });
  }

  void Respond(Router::Outcome out) {
    route_ = std::move(out.route);
    if (state_->draining.load()) keep_alive_ = false;
    Write(std::move(out.response));
  }

  // An answer the listener makes itself, in the router's error format.
  void Refuse(int status, std::string_view detail, bool close = true) {
    start_ = Clock::now();
    route_ = "unmatched";
    if (method_.empty()) method_ = "-";
    if (close) keep_alive_ = false;
    if (parser_ && parser_->is_header_done()) version_ = parser_->get().version();
    // Set as soon as the request line parsed (empty before): the path
    // picks the error format where a listener has several.
    std::string_view target = parser_ ? parser_->get().target() : std::string_view();
    std::string_view path = target.substr(0, target.find('?'));
    HttpResponse r = state_->router->ErrorFor(path, status, detail);
    if (status == 503) r.AddHeader("Retry-After", "1");  // draining: another instance, soon
    Write(std::move(r));
  }

  void Write(HttpResponse r) {
    if (closed_) return Done(r.status, false);
    status_ = r.status;
    res_ = {};
    res_.version(version_);
    res_.result(static_cast<unsigned>(r.status));
    const char* reason = ReasonPhrase(r.status);
    if (std::string_view(reason) != "Unknown") res_.reason(reason);
    res_.set(http::field::connection, keep_alive_ ? "Keep-Alive" : "Close");
    for (const auto& [k, v] : r.headers) res_.insert(k, v);
    if (!r.content_type.empty()) res_.set(http::field::content_type, r.content_type);
    res_.body() = std::move(r.body);
    try {
      res_.prepare_payload();
    } catch (const std::exception&) {  // a body on a 204: drop the body
      res_.body().clear();
      res_.prepare_payload();
    }
    SetDeadline(kWriteTimeout, Phase::kWrite);
    http::async_write(stream_, res_, [self = this->shared_from_this()](error_code ec, size_t) {
      self->Done(self->status_, !ec);
    });
  }

  void Done(int status, bool sent) {
    // An idle connection keeps no large answer around.
    if (res_.body().capacity() > 64 * 1024) std::string().swap(res_.body());
    double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    state_->Finish(method_, route_, status, secs);
    method_.clear();
    if (in_flight_) {
      in_flight_ = false;
      state_->in_flight.fetch_sub(1, std::memory_order_relaxed);
    }
    if (!sent || closed_) return Close();
    if (!keep_alive_ || state_->stopping.load()) return Shutdown();
    served_ = true;
    WaitForRequest();
  }

  // After the last answer: TLS close_notify, then the TCP half-close, then
  // whatever the client still sends is read and dropped until it closes
  // (closing with unread data would reset the connection, and the client
  // could lose the answer).
  void Shutdown() {
    SetDeadline(kLingerTimeout, Phase::kLinger);
    if constexpr (kTls) {
      stream_.async_shutdown([self = this->shared_from_this()](error_code) {
        if (self->closed_) return;
        self->Linger();
      });
    } else {
      Linger();
    }
  }

  void Linger() {
    error_code ec;
    Lowest().shutdown(tcp::socket::shutdown_send, ec);
    buffer_.consume(buffer_.size());
    Lowest().async_read_some(buffer_.prepare(16384),
                             [self = this->shared_from_this()](error_code ec, size_t) {
                               if (ec || self->closed_) return self->Close();
                               self->Linger();
                             });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    phase_ = Phase::kNone;
    error_code ec;
    Lowest().close(ec);
  }

  std::shared_ptr<State> state_;
  Worker* worker_;
  Stream stream_;
  std::string peer_;
  bool handshake_counted_;
  std::string cert_der_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  Phase phase_ = Phase::kNone;
  Clock::time_point deadline_;
  bool timed_out_ = false;
  bool closed_ = false;
  bool served_ = false;
  bool keep_alive_ = false;
  bool in_flight_ = false;
  unsigned version_ = 11;
  int status_ = 0;
  std::string method_, route_;
  Clock::time_point start_;
};

void Tick(Worker* w, std::chrono::milliseconds every) {
  w->tick.expires_after(every);
  w->tick.async_wait([w, every](error_code ec) {
    if (ec) return;
    std::vector<std::shared_ptr<ConnectionBase>> snapshot;
    {
      std::lock_guard<std::mutex> lock(w->mu);
      snapshot.reserve(w->live.size());
      for (auto& [ptr, weak] : w->live) {
        if (auto c = weak.lock()) snapshot.push_back(std::move(c));
      }
    }
    auto now = Clock::now();
    for (auto& c : snapshot) c->CheckDeadline(now);
    snapshot.clear();
    Tick(w, every);
  });
}

void AbortAll(Worker* w) {
  w->tick.cancel();
  std::vector<std::shared_ptr<ConnectionBase>> snapshot;
  {
    std::lock_guard<std::mutex> lock(w->mu);
    for (auto& [ptr, weak] : w->live) {
      if (auto c = weak.lock()) snapshot.push_back(std::move(c));
    }
  }
  for (auto& c : snapshot) c->Abort();
}

void StartConnection(const std::shared_ptr<State>& state, Worker* w, tcp::socket socket) {
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto remote = socket.remote_endpoint(ec);
  std::string peer = ec ? "" : remote.address().to_string();
  if (!state->tls) {
    auto c =
        std::make_shared<Connection<false>>(state, w, std::move(socket), std::move(peer), false);
    net::post(w->ioc, [c] { c->Start(); });
    return;
  }
  if (!state->AdmitHandshake(peer)) {
    socket.close(ec);
    return;
  }
  auto c = std::make_shared<Connection<true>>(state, w, std::move(socket), std::move(peer), true);
  net::post(w->ioc, [c] { c->Start(); });
}

void Accept(const std::shared_ptr<State>& state) {
  Worker* w = state->workers[state->next_worker++ % state->workers.size()].get();
  state->acceptor->async_accept(w->ioc, [state, w](error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !state->acceptor->is_open()) return;
    if (ec) {
      // E.g. out of file descriptors: try again shortly rather than spin.
      LogWarn("accept failed", {{"listener", state->options.name}, {"error", ec.message()}});
      auto timer = std::make_shared<net::steady_timer>(state->workers[0]->ioc,
                                                       std::chrono::milliseconds(50));
      timer->async_wait([state, timer](error_code) {
        if (state->acceptor->is_open()) Accept(state);
      });
      return;
    }
    StartConnection(state, w, std::move(socket));
    Accept(state);
  });
}

void RunWorker(const std::shared_ptr<State>& state, Worker* w, size_t index) {
  std::string name = (state->options.name + "-" + std::to_string(index)).substr(0, 15);
  pthread_setname_np(pthread_self(), name.c_str());
  for (;;) {
    try {
      w->ioc.run();
      break;
    } catch (const std::exception&) {  // never expected: handlers catch their own
      LogError("http thread: unexpected exception", {{"listener", state->options.name}});
    } catch (...) {
      LogError("http thread: unexpected exception", {{"listener", state->options.name}});
    }
  }
  state->running_threads.fetch_sub(1);
}

// The TLS context of a listener, per its options.
Result<std::unique_ptr<ssl::context>> MakeTlsContext(const ListenerOptions& o) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  error_code ec;
  ctx->use_certificate_chain_file(o.tls_cert, ec);
  if (!ec) ctx->use_private_key_file(o.tls_key, ssl::context::pem, ec);
  if (ec) return InvalidArgument("TLS certificate or key of " + o.name + " not usable");
  ClientCertMode mode = o.client_cert;
  if (mode == ClientCertMode::kDefault) {
    mode = o.tls_ca.empty() ? ClientCertMode::kNone : ClientCertMode::kRequired;
  }
  if (mode != ClientCertMode::kNone) {
    if (o.tls_ca.empty()) return InvalidArgument("client certificates of " + o.name + " need a CA");
    ctx->load_verify_file(o.tls_ca, ec);
    if (ec) return InvalidArgument("TLS client CA of " + o.name + " not usable");
    SSL_CTX_set_client_CA_list(ctx->native_handle(), SSL_load_client_CA_file(o.tls_ca.c_str()));
    ctx->set_verify_mode(mode == ClientCertMode::kRequired
                             ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert
                             : ssl::verify_peer);
    // Resumed sessions with client verification need a context id.
    static const unsigned char kId[] = "attestd";
    SSL_CTX_set_session_id_context(ctx->native_handle(), kId, sizeof kId - 1);
  }
  return ctx;
}

}  // namespace

struct HttpServer::Impl {
  bool running = false;
};

HttpServer::HttpServer(ListenerOptions options, std::shared_ptr<const Router> router,
                       RequestObserver observer)
    : options_(options), state_(std::make_shared<State>()), impl_(std::make_unique<Impl>()) {
  state_->options = std::move(options);
  state_->router = std::move(router);
  state_->observer = std::move(observer);
  state_->counters = GlobalMetrics().RegisterListener(state_->options.name);
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  std::string host;
  int port = 0;
  if (!SplitHostPort(options_.address, &host, &port)) {
    return InvalidArgument("listen address must be host:port, got '" + options_.address + "'");
  }
  State& st = *state_;
  if (!options_.tls_cert.empty()) {
    auto ctx = MakeTlsContext(options_);
    if (!ctx.ok()) return ctx.status();
    st.tls = std::move(*ctx);
  }
  auto smallest = std::min({options_.handshake_timeout, options_.idle_timeout,
                            options_.header_timeout, options_.body_timeout, kLingerTimeout});
  st.tick = std::clamp(smallest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(500));
  int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) st.workers.push_back(std::make_unique<Worker>());
  error_code ec;
  tcp::endpoint endpoint;
  auto addr = net::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(addr, static_cast<uint16_t>(port));
  } else {
    tcp::resolver resolver(st.workers[0]->ioc);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) return InvalidArgument("cannot resolve listen address " + host);
    endpoint = results.begin()->endpoint();
  }
  st.acceptor = std::make_unique<tcp::acceptor>(st.workers[0]->ioc);
  st.acceptor->open(endpoint.protocol(), ec);
  if (!ec) st.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) st.acceptor->bind(endpoint, ec);
  if (!ec) st.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    st.acceptor.reset();
    st.workers.clear();
    return Unavailable("cannot listen on " + options_.address + ": " + ec.message());
  }
  st.port = st.acceptor->local_endpoint(ec).port();
  Accept(state_);
  st.running_threads.store(threads);
  for (int i = 0; i < threads; ++i) {
    Worker* w = st.workers[i].get();
    Tick(w, st.tick);
    w->thread = std::thread(RunWorker, state_, w, static_cast<size_t>(i));
  }
  impl_->running = true;
  LogInfo("listening", {{"listener", options_.name},
                        {"address", host + ":" + std::to_string(st.port)},
                        {"tls", options_.tls_cert.empty() ? "off" : "on"}});
  return Status::Ok();
}

int HttpServer::port() const { return impl_->running ? state_->port : 0; }

bool HttpServer::Drain(std::chrono::milliseconds timeout) {
  state_->draining.store(true);
  auto deadline = Clock::now() + timeout;
  while (state_->in_flight.load() > 0) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void HttpServer::Stop() {
  if (!impl_->running) return;
  impl_->running = false;
  State& st = *state_;
  st.stopping.store(true);
  // Answers still on their way from another thread: let them be sent (each
  // is bounded by the store's timeouts).
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (st.in_flight.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Close the acceptor on its own thread and wait: an accept that completed
  // before has then posted its connection's Start to a worker already, so
  // the AbortAll posted next runs after it and no connection slips through.
  auto acceptor_closed = std::make_shared<std::promise<void>>();
  std::future<void> closed = acceptor_closed->get_future();
  net::post(st.workers[0]->ioc, [state = state_, acceptor_closed] {
    error_code ec;
    state->acceptor->close(ec);
    acceptor_closed->set_value();
  });
  (void)closed.wait_for(std::chrono::seconds(3));
  for (auto& w : st.workers) net::post(w->ioc, [p = w.get()] { AbortAll(p); });
  // Every connection is closed, so the threads run out of work; a thread
  // that does not is stopped.
  deadline = Clock::now() + std::chrono::seconds(3);
  while (st.running_threads.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto& w : st.workers) w->ioc.stop();
  for (auto& w : st.workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

}  // namespace attestd::api
