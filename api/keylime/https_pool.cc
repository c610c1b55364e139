// The pull model's connection pool: one io_context with a few threads, a
// coroutine per call, idle connections kept per peer. Callers block on a
// slot the coroutine fills, so the pool's threads never wait on them.
// BOOST_BEAST_USE_STD_STRING_VIEW comes from CMake, for every file alike.
#include "api/keylime/https_pool.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/base64.h"

namespace attestd::api::keylime {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// One open connection and the bytes it read past its last answer.
struct Conn {
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  std::unique_ptr<beast::tcp_stream> plain;
  beast::flat_buffer buffer;
  Clock::time_point idle_since;
  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

// Where a blocked caller waits for its coroutine's answer.
struct Slot {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<PoolReply>> value;
  void Set(Result<PoolReply> v) {
    {
      std::lock_guard<std::mutex> lock(mu);
      value = std::move(v);
    }
    cv.notify_one();
  }
};

using StorePtr = std::shared_ptr<X509_STORE>;

std::string Sha256Hex(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md), n));
}

// The registered certificate as the only anchor, CA or not.
StorePtr StoreOf(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (!cert) return nullptr;
  StorePtr store(X509_STORE_new(), X509_STORE_free);
  bool ok = store && X509_STORE_add_cert(store.get(), cert) == 1 &&
            X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN) == 1;
  X509_free(cert);
  return ok ? store : nullptr;
}

Status Unavailable(const PoolRequest& r, const std::string& why) {
  return Status(StatusCode::kUnavailable, "no answer from " + r.host + ":" + r.port + ": " + why);
}

class Pool : public HttpsPool {
 public:
  Pool(PoolOptions options, ssl::context agent_ctx, ssl::context public_ctx)
      : options_(std::move(options)),
        agent_ctx_(std::move(agent_ctx)),
        public_ctx_(std::move(public_ctx)),
        work_(net::make_work_guard(ioc_)) {
    net::co_spawn(ioc_, SweepLoop(), net::detached);
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
  }

  ~Pool() override {
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
    std::lock_guard<std::mutex> lock(mu_);
    idle_.clear();
  }

  Result<PoolReply> Call(const PoolRequest& request) override {
    auto slot = std::make_shared<Slot>();
    CallAsync(request, [slot](Result<PoolReply> reply) { slot->Set(std::move(reply)); });
    std::unique_lock<std::mutex> lock(slot->mu);
    // The coroutine keeps the deadline itself; this bound only covers a
    // resolver that does not return.
    auto bound = std::chrono::milliseconds(options_.timeout_ms + 1000);
    if (!slot->cv.wait_for(lock, bound, [&] { return slot->value.has_value(); })) {
      return Unavailable(request, "timeout");
    }
    return std::move(*slot->value);
  }

  void CallAsync(const PoolRequest& request, Done done) override {
    net::co_spawn(
        ioc_,
        [this, request, done = std::move(done)]() -> net::awaitable<void> {
          done(co_await Exchange(request));
        },
        net::detached);
  }

  size_t idle() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return idle_count_;
  }
  uint64_t opened() const override { return opened_.load(); }

 private:
  net::awaitable<Result<PoolReply>> Exchange(PoolRequest r) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    StorePtr store;
    std::string key = (r.tls ? "https://" : "http://") + r.host + ":" + r.port;
    if (r.tls && !r.trusted_cert.empty()) {
      std::string digest = Sha256Hex(r.trusted_cert);
      store = Trust(digest, r.trusted_cert);
      if (!store) co_return InvalidArgument("the agent's mtls_cert is not a PEM certificate");
      key += "#" + digest;
    }
    http::request<http::string_body> req = Build(r);
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<Conn> conn = attempt == 0 ? TakeIdle(key) : nullptr;
      const bool reused = conn != nullptr;
      if (!conn) {
        auto opened = co_await Open(r, store, deadline);
        if (!opened.ok()) co_return opened.status();
        conn = std::move(*opened);
      }
      http::response_parser<http::string_body> parser;
      parser.body_limit(options_.max_body);
      std::string error;
      try {
        conn->lowest().expires_at(deadline);
        if (conn->tls) {
          co_await http::async_write(*conn->tls, req, net::use_awaitable);
          co_await http::async_read(*conn->tls, conn->buffer, parser, net::use_awaitable);
        } else {
          co_await http::async_write(*conn->plain, req, net::use_awaitable);
          co_await http::async_read(*conn->plain, conn->buffer, parser, net::use_awaitable);
        }
      } catch (const boost::system::system_error& e) {
        if (e.code() == http::error::body_limit)
          co_return InvalidArgument("the answer is too large");
        error = e.code().message();
      }
      if (error.empty()) {
        PoolReply reply{static_cast<int>(parser.get().result_int()),
                        std::move(parser.get().body())};
        if (parser.get().keep_alive()) PutIdle(key, std::move(conn));
        co_return reply;
      }
      // The peer closed an idle connection: one more try on a new one.
      if (!reused || parser.got_some() || Clock::now() >= deadline) {
        co_return Unavailable(r, error);
      }
    }
  }

  static http::request<http::string_body> Build(const PoolRequest& r) {
    http::request<http::string_body> req{http::string_to_verb(r.method), r.target, 11};
    req.set(http::field::host, r.host);
    req.set(http::field::user_agent, "attestd");
    if (!r.body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = r.body;
    }
    req.prepare_payload();
    return req;
  }

  net::awaitable<Result<std::unique_ptr<Conn>>> Open(const PoolRequest& r, const StorePtr& store,
                                                     Clock::time_point deadline) {
    auto conn = std::make_unique<Conn>();
    try {
      auto ex = co_await net::this_coro::executor;
      if (!r.tls) {
        conn->plain = std::make_unique<beast::tcp_stream>(ex);
      } else {
        conn->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(
            ex, store ? agent_ctx_ : public_ctx_);
        SSL* ssl = conn->tls->native_handle();
        if (store) {
          SSL_set1_verify_cert_store(ssl, store.get());
          X509_VERIFY_PARAM_set_flags(SSL_get0_param(ssl), X509_V_FLAG_PARTIAL_CHAIN);
        } else {
          SSL_set_tlsext_host_name(ssl, r.host.c_str());
          conn->tls->set_verify_callback(ssl::host_name_verification(r.host));
        }
      }
      conn->lowest().expires_at(deadline);
      boost::system::error_code ec;
      auto address = net::ip::make_address(r.host, ec);
      if (!ec) {
        tcp::endpoint ep(address, static_cast<unsigned short>(std::stoi(r.port)));
        co_await conn->lowest().async_connect(ep, net::use_awaitable);
      } else {
        tcp::resolver resolver(ex);
        auto endpoints = co_await resolver.async_resolve(r.host, r.port, net::use_awaitable);
        co_await conn->lowest().async_connect(endpoints, net::use_awaitable);
      }
      if (conn->tls)
        co_await conn->tls->async_handshake(ssl::stream_base::client, net::use_awaitable);
    } catch (const boost::system::system_error& e) {
      co_return Unavailable(r, e.code().message());
    } catch (const std::exception&) {
      co_return Unavailable(r, "bad address");
    }
    ++opened_;
    co_return std::move(conn);
  }

  // Stores are small and shared by every connection to one certificate;
  // the cache is emptied when it would hold more than twice max_idle.
  StorePtr Trust(const std::string& digest, const std::string& pem) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = trust_.find(digest);
      if (it != trust_.end()) return it->second;
    }
    StorePtr store = StoreOf(pem);
    if (!store) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    if (trust_.size() >= 2 * options_.max_idle + 16) trust_.clear();
    trust_.emplace(digest, store);
    return store;
  }

  std::unique_ptr<Conn> TakeIdle(const std::string& key) {
    std::vector<std::unique_ptr<Conn>> expired;
    std::unique_ptr<Conn> found;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = idle_.find(key);
      if (it == idle_.end()) return nullptr;
      auto& list = it->second;
      const auto oldest = Clock::now() - std::chrono::milliseconds(options_.idle_timeout_ms);
      while (!list.empty() && !found) {
        std::unique_ptr<Conn> c = std::move(list.back());
        list.pop_back();
        --idle_count_;
        if (c->idle_since >= oldest) {
          found = std::move(c);
        } else {
          expired.push_back(std::move(c));
        }
      }
      if (list.empty()) idle_.erase(it);
    }
    return found;  // `expired` closes outside the lock
  }

  void PutIdle(const std::string& key, std::unique_ptr<Conn> conn) {
    if (options_.idle_timeout_ms <= 0) return;
    conn->lowest().expires_never();
    conn->idle_since = Clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    auto& list = idle_[key];
    if (idle_count_ >= options_.max_idle || list.size() >= options_.max_idle_per_peer) {
      if (list.empty()) idle_.erase(key);
      return;  // closed as `conn` goes
    }
    list.push_back(std::move(conn));
    ++idle_count_;
  }

  // Closes connections idle past idle_timeout_ms, including those of peers
  // that are polled no more.
  net::awaitable<void> SweepLoop() {
    net::steady_timer timer(co_await net::this_coro::executor);
    const auto every =
        std::chrono::milliseconds(std::max<int64_t>(1000, options_.idle_timeout_ms / 2));
    for (;;) {
      timer.expires_after(every);
      boost::system::error_code ec;
      co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
      std::vector<std::unique_ptr<Conn>> expired;
      const auto oldest = Clock::now() - std::chrono::milliseconds(options_.idle_timeout_ms);
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = idle_.begin(); it != idle_.end();) {
        auto& list = it->second;
        for (auto& c : list) {
          if (c->idle_since < oldest) expired.push_back(std::move(c));
        }
        std::erase(list, nullptr);
        it = list.empty() ? idle_.erase(it) : std::next(it);
      }
      idle_count_ -= expired.size();
    }
  }

  PoolOptions options_;
  ssl::context agent_ctx_;
  ssl::context public_ctx_;
  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> idle_;
  size_t idle_count_ = 0;
  std::unordered_map<std::string, StorePtr> trust_;
  std::atomic<uint64_t> opened_{0};
};

ssl::context ClientContext() {
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx.set_verify_mode(ssl::verify_peer);
  // Idle connections give their read and write buffers back.
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

}  // namespace

Result<std::unique_ptr<HttpsPool>> HttpsPool::Create(const PoolOptions& options) {
  ssl::context agent_ctx = ClientContext();
  if (!options.client_cert_pem.empty()) {
    boost::system::error_code ec;
    agent_ctx.use_certificate_chain(net::buffer(options.client_cert_pem), ec);
    if (!ec) agent_ctx.use_private_key(net::buffer(options.client_key_pem), ssl::context::pem, ec);
    if (ec) return InvalidArgument("cannot load the verifier's client certificate");
  }
  ssl::context public_ctx = ClientContext();
  boost::system::error_code ec;
  public_ctx.set_default_verify_paths(ec);
  return std::unique_ptr<HttpsPool>(
      std::make_unique<Pool>(options, std::move(agent_ctx), std::move(public_ctx)));
}

}  // namespace attestd::api::keylime
