// HttpServer at the HTTP and TLS level, on its own routers: clients that
// stall (idle TCP, slow or finished-then-silent TLS handshakes) delay
// nobody; handshake timeouts and caps close connections and are counted;
// the peer certificate reaches routes; malformed framing, oversized bodies
// and odd Content-Types get clean answers in the listener's own format;
// pipelined requests are answered in order.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "api/http_server.h"
#include "api/keylime/keylime_api.h"
#include "api/problem.h"
#include "common/log.h"
#include "common/metrics.h"
#include "server/tls_material.h"
#include "tests/support/http_client.h"
#include "tests/support/json.h"
#include "tests/support/processes.h"

namespace attestd {
namespace {

using api::ClientCertMode;
using api::HttpServer;
using api::ListenerOptions;
using api::Router;
using testing::HttpClient;
using testing::HttpResponse;
using testing::JsonAt;

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the server closed `fd` within `ms` (EOF or reset on read).
bool ClosedWithin(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

// The value of one exposition line, e.g. `name{listener="x"}`; 0 if absent.
uint64_t Metric(const std::string& series) {
  std::string all = GlobalMetrics().Render();
  size_t p = all.find(series + " ");
  if (p == std::string::npos) return 0;
  return std::stoull(all.substr(p + series.size() + 1));
}

uint64_t RssKb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

std::string PemToDer(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return "";
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!cert) return "";
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(std::max(len, 0)));
  OPENSSL_free(der);
  X509_free(cert);
  return out;
}

// Routes for these tests: /hello, /cert (the peer certificate's DER, or
// "none"), /echo (415 with Accept unless application/json; the route sees
// every Content-Type), /slow (answers 100 ms later from another thread).
void AddTestRoutes(Router& router) {
  router.Add("GET", "/hello", [](const api::HttpRequest&) {
    api::HttpResponse r;
    r.content_type = "text/plain";
    r.body = "hello";
    return r;
  });
  router.Add("GET", "/cert", [](const api::HttpRequest& req) {
    api::HttpResponse r;
    r.content_type = "application/octet-stream";
    r.body = req.client_cert_der.empty() ? "none" : req.client_cert_der;
    return r;
  });
  router.Add("POST", "/echo", [errors = router.errors()](const api::HttpRequest& req) {
    if (req.header("content-type") != "application/json") {
      return errors(415, "unsupported media type").AddHeader("Accept", "application/json");
    }
    api::HttpResponse r;
    r.content_type = "application/json";
    r.body = req.body;
    return r;
  });
  router.AddAsync("GET", "/slow", [](const api::HttpRequest&, api::Responder respond) {
    std::thread([respond] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      api::HttpResponse r;
      r.content_type = "text/plain";
      r.body = "slow";
      respond(r);
    }).detach();
  });
  router.Add("GET", "/big", [](const api::HttpRequest&) {
    api::HttpResponse r;
    r.content_type = "application/octet-stream";
    r.body = std::string(8 << 20, 'x');
    return r;
  });
}

std::shared_ptr<Router> ProblemRouter() {
  auto router = std::make_shared<Router>(api::Problem);
  AddTestRoutes(*router);
  return router;
}

std::shared_ptr<Router> KeylimeRouter() {
  auto router = api::keylime::MakeKeylimeRouter();
  AddTestRoutes(*router);
  return router;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogLevel(LogLevel::kOff);
    GlobalMetrics().set_enabled(true);
    auto tls = EnsureTlsMaterial(dir_.path(), "test", {"127.0.0.1"});
    ASSERT_TRUE(tls.ok()) << tls.status().ToString();
    tls_ = *tls;
  }
  void TearDown() override {
    if (server_) server_->Stop();
    for (int fd : fds_) ::close(fd);
  }

  ListenerOptions Options(const std::string& name, bool tls) {
    ListenerOptions o;
    o.name = name;
    o.address = "127.0.0.1:0";
    o.threads = 2;
    o.max_body = 4096;
    if (tls) {
      o.tls_cert = tls_.server_cert;
      o.tls_key = tls_.server_key;
    }
    return o;
  }

  void Serve(ListenerOptions o, std::shared_ptr<Router> router = ProblemRouter()) {
    server_ = std::make_unique<HttpServer>(o, router);
    ASSERT_TRUE(server_->Start().ok());
  }

  int Open() {
    int fd = Connect(server_->port());
    if (fd >= 0) fds_.push_back(fd);
    return fd;
  }

  testing::TlsClientOptions TlsClient(bool with_cert = false) const {
    return {tls_.ca_cert, with_cert ? tls_.client_cert : "", with_cert ? tls_.client_key : ""};
  }

  testing::TempDir dir_;
  TlsMaterial tls_;
  std::unique_ptr<HttpServer> server_;
  std::vector<int> fds_;
};

// A TLS connection that finished its handshake.
struct TlsConn {
  int fd = -1;
  SSL* ssl = nullptr;
};

TEST_F(HttpServerTest, StalledClientsOnATlsListenerDelayNobody) {
  Serve(Options("t-stalled", true));
  int port = server_->port();
  // 50 TCP connections that never say anything.
  for (int i = 0; i < 50; ++i) ASSERT_GE(Open(), 0);
  // 50 that send a TLS record header one byte a second.
  std::vector<int> slow;
  for (int i = 0; i < 50; ++i) {
    slow.push_back(Open());
    ASSERT_GE(slow.back(), 0);
  }
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    const std::string hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    for (size_t i = 0; i < hello.size() && !stop; ++i) {
      for (int fd : slow) ::send(fd, &hello[i], 1, MSG_NOSIGNAL);
      for (int t = 0; t < 10 && !stop; ++t)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  // 50 that finish the handshake, then send nothing.
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  std::vector<TlsConn> silent;
  for (int i = 0; i < 50; ++i) {
    TlsConn c{Open(), nullptr};
    c.ssl = SSL_new(ctx);
    SSL_set_fd(c.ssl, c.fd);
    EXPECT_EQ(SSL_connect(c.ssl), 1) << i;
    silent.push_back(c);
  }
  // A normal client still gets its answers, on fresh connections each time,
  // over a few seconds while the slow ones keep trickling.
  for (int i = 0; i < 5; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(600));
    auto t0 = std::chrono::steady_clock::now();
    HttpClient client(port, TlsClient());
    HttpResponse r = client.Request("GET", "/hello");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello");
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    std::printf("request %d with 150 stalled connections: %lld ms\n", i,
                static_cast<long long>(ms.count()));
  }
  stop = true;
  trickle.join();
  for (auto& c : silent) SSL_free(c.ssl);
  SSL_CTX_free(ctx);
}

TEST_F(HttpServerTest, HandshakeTimeoutClosesAndIsCounted) {
  ListenerOptions o = Options("t-hs-timeout", true);
  o.handshake_timeout = std::chrono::milliseconds(300);
  Serve(o);
  const std::string series = "attestd_tls_handshake_timeouts_total{listener=\"t-hs-timeout\"}";
  uint64_t before = Metric(series);
  int idle = Open();
  int slow = Open();
  ASSERT_GE(idle, 0);
  ::send(slow, "\x16\x03", 2, MSG_NOSIGNAL);
  EXPECT_TRUE(ClosedWithin(idle, 3000));
  EXPECT_TRUE(ClosedWithin(slow, 3000));
  EXPECT_EQ(Metric(series), before + 2);
  HttpClient client(server_->port(), TlsClient());
  EXPECT_EQ(client.Request("GET", "/hello").status, 200);
}

TEST_F(HttpServerTest, FailedHandshakeIsCounted) {
  Serve(Options("t-hs-failure", true));
  const std::string series = "attestd_tls_handshake_failures_total{listener=\"t-hs-failure\"}";
  uint64_t before = Metric(series);
  HttpClient plain(server_->port());  // plain HTTP to the TLS port
  plain.set_timeout_ms(2000);
  EXPECT_EQ(plain.Request("GET", "/hello").status, 0);
  for (int i = 0; i < 100 && Metric(series) == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Metric(series), before + 1);
}

TEST_F(HttpServerTest, HandshakeCapsCloseNewConnectionsAndAreCounted) {
  ListenerOptions o = Options("t-hs-cap", true);
  o.max_handshakes_per_address = 2;
  Serve(o);
  const std::string per_address =
      "attestd_connections_refused_total{listener=\"t-hs-cap\",reason=\"handshake_per_address_"
      "cap\"}";
  uint64_t before = Metric(per_address);
  int a = Open(), b = Open();
  ASSERT_GE(b, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // both accepted
  int over = Open();
  EXPECT_TRUE(ClosedWithin(over, 2000));
  EXPECT_FALSE(ClosedWithin(a, 0));
  EXPECT_EQ(Metric(per_address), before + 1);
  // Once they go, the address may handshake again.
  ::shutdown(a, SHUT_RDWR);
  ::shutdown(b, SHUT_RDWR);
  int status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    HttpClient client(server_->port(), TlsClient());
    status = client.Request("GET", "/hello").status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status, 200);
}

TEST_F(HttpServerTest, ListenerHandshakeCap) {
  ListenerOptions o = Options("t-hs-listener-cap", true);
  o.max_handshakes = 1;
  Serve(o);
  const std::string cap =
      "attestd_connections_refused_total{listener=\"t-hs-listener-cap\",reason=\"handshake_cap\"}";
  uint64_t before = Metric(cap);
  ASSERT_GE(Open(), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(ClosedWithin(Open(), 2000));
  EXPECT_EQ(Metric(cap), before + 1);
}

TEST_F(HttpServerTest, PeerCertificateReachesRoutesInOptionalMode) {
  ListenerOptions o = Options("t-cert-optional", true);
  o.tls_ca = tls_.ca_cert;
  o.client_cert = ClientCertMode::kOptional;
  Serve(o);
  HttpClient with(server_->port(), TlsClient(true));
  HttpResponse r = with.Request("GET", "/cert");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, PemToDer(tls_.client_cert));
  HttpClient without(server_->port(), TlsClient(false));
  r = without.Request("GET", "/cert");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "none");
}

TEST_F(HttpServerTest, DefaultWithCaRequiresACertificate) {
  ListenerOptions o = Options("t-cert-required", true);
  o.tls_ca = tls_.ca_cert;
  Serve(o);
  HttpClient with(server_->port(), TlsClient(true));
  HttpResponse r = with.Request("GET", "/cert");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, PemToDer(tls_.client_cert));
  HttpClient without(server_->port(), TlsClient(false));
  without.set_timeout_ms(2000);
  EXPECT_EQ(without.Request("GET", "/cert").status, 0);
}

TEST_F(HttpServerTest, OptionalModeNeedsACa) {
  ListenerOptions o = Options("t-cert-no-ca", true);
  o.client_cert = ClientCertMode::kOptional;
  HttpServer server(o, ProblemRouter());
  EXPECT_FALSE(server.Start().ok());
}

struct Malformed {
  std::string name, request;
  int status;
};

std::vector<Malformed> MalformedRequests() {
  const std::string chunked =
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  const std::string post = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  std::string many_chunks;
  for (int i = 0; i < 6; ++i) many_chunks += "3e8\r\n" + std::string(1000, 'a') + "\r\n";
  return {
      {"chunk size 2^64-1", chunked + "ffffffffffffffff\r\nabc\r\n0\r\n\r\n", 0},
      {"chunk size 2^64", chunked + "10000000000000000\r\nabc\r\n0\r\n\r\n", 0},
      {"chunk size -1", chunked + "-1\r\nabc\r\n0\r\n\r\n", 400},
      {"huge chunk", chunked + "7fffffff\r\nabc", 413},
      {"chunk without CRLF", chunked + "3\r\nabcXY0\r\n\r\n", 400},
      {"chunk size not hex", chunked + "zz\r\nabc\r\n0\r\n\r\n", 400},
      {"chunked over the limit", chunked + many_chunks + "0\r\n\r\n", 413},
      {"Content-Length over the limit",
       post + "Content-Length: 5000\r\n\r\n" + std::string(5000, 'a'), 413},
      {"negative Content-Length", post + "Content-Length: -5\r\n\r\n", 400},
      {"huge Content-Length", post + "Content-Length: 99999999999999999999999\r\n\r\n", 0},
      {"two Content-Lengths", post + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
      {"target over 8 KiB", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
      {"target over the header limit", "GET /" + std::string(80000, 'a') + " HTTP/1.1\r\n\r\n",
       414},
      {"headers over 64 KiB",
       "GET /hello HTTP/1.1\r\nX-Big: " + std::string(66000, 'b') + "\r\n\r\n", 431},
      {"unknown method", "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"not HTTP", std::string("\x01\x02\x03\r\n\r\n"), 400},
      {"bad version", "GET /hello HTTP/9\r\n\r\n", 400},
      {"bad percent-encoding", "GET /hello?a=%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
  };
}

void ExpectCleanError(const HttpResponse& r, const Malformed& m, bool keylime) {
  if (m.status) {
    EXPECT_EQ(r.status, m.status) << m.name;
  } else {
    EXPECT_GE(r.status, 400) << m.name;
    EXPECT_LT(r.status, 500) << m.name;
  }
  if (keylime) {
    EXPECT_EQ(r.header("content-type"), "application/json") << m.name;
    EXPECT_EQ(JsonAt(r.body, "/code"), std::to_string(r.status)) << m.name << ": " << r.body;
  } else {
    EXPECT_EQ(r.header("content-type"), api::kProblemMediaType) << m.name;
    EXPECT_EQ(JsonAt(r.body, "/status"), std::to_string(r.status)) << m.name << ": " << r.body;
  }
  for (const char* leak : {"bad_alloc", "_M_create", "std::", "exception", "what", "127.0.0.1"}) {
    EXPECT_EQ(r.body.find(leak), std::string::npos) << m.name << ": " << r.body;
  }
}

void CheckMalformed(HttpServer& server, bool keylime) {
  uint64_t rss_before = RssKb();
  for (const Malformed& m : MalformedRequests()) {
    HttpClient one(server.port());
    one.set_timeout_ms(3000);
    ExpectCleanError(one.Raw(m.request), m, keylime);
  }
  EXPECT_LT(RssKb(), rss_before + 64 * 1024) << "kB";
  HttpClient c(server.port());
  EXPECT_EQ(c.Request("GET", "/hello").status, 200);
}

TEST_F(HttpServerTest, MalformedRequestsGetProblemDocuments) {
  Serve(Options("t-malformed", false));
  CheckMalformed(*server_, false);
}

TEST_F(HttpServerTest, MalformedRequestsGetKeylimeEnvelopes) {
  Serve(Options("t-malformed-keylime", false), KeylimeRouter());
  CheckMalformed(*server_, true);
}

TEST_F(HttpServerTest, MalformedRequestsOverTls) {
  Serve(Options("t-malformed-tls", true));
  for (const Malformed& m : MalformedRequests()) {
    HttpClient one(server_->port(), TlsClient());
    one.set_timeout_ms(3000);
    ExpectCleanError(one.Raw(m.request), m, false);
  }
}

TEST_F(HttpServerTest, AnyContentTypeReachesTheRoute) {
  Serve(Options("t-content-type", false));
  HttpClient c(server_->port());
  for (const std::string type :
       {"garbage", "a/b", "/json", "application/", "", "text/plain; charset"}) {
    HttpResponse r = c.Request("POST", "/echo", {{"Content-Type", type}}, "{}");
    EXPECT_EQ(r.status, 415) << type;
    EXPECT_EQ(r.header("accept"), "application/json") << type;
    EXPECT_EQ(r.header("content-type"), api::kProblemMediaType) << type;
  }
  HttpResponse ok = c.Request("POST", "/echo", {{"Content-Type", "application/json"}}, "{\"a\":1}");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "{\"a\":1}");
  EXPECT_EQ(c.connections_opened(), 1);
}

TEST_F(HttpServerTest, ChunkedBodyWithinTheLimitReachesTheRoute) {
  Serve(Options("t-chunked", false));
  HttpClient c(server_->port());
  HttpResponse r = c.Raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3;ext=1\r\n:1}\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"a\":1}");
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Serve(Options("t-pipeline", false));
  int fd = Open();
  std::string two = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, two.data(), two.size(), MSG_NOSIGNAL), static_cast<ssize_t>(two.size()));
  std::string got;
  char buf[4096];
  while (got.find("hello") == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_GT(::poll(&p, 1, 3000), 0) << got;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  size_t slow = got.find("slow"), hello = got.find("hello");
  ASSERT_NE(slow, std::string::npos) << got;
  EXPECT_LT(slow, hello);
}

TEST_F(HttpServerTest, HeaderTimeoutAnswers408InTheListenerFormat) {
  ListenerOptions o = Options("t-header-timeout", false);
  o.header_timeout = std::chrono::milliseconds(300);
  Serve(o, KeylimeRouter());
  HttpClient c(server_->port());
  c.set_timeout_ms(3000);
  HttpResponse r = c.Raw("GET /hello HTTP/1.1\r\nHost: x\r\n");
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(JsonAt(r.body, "/code"), "408") << r.body;
}

TEST_F(HttpServerTest, BodyTimeoutAnswers408InTheListenerFormat) {
  ListenerOptions o = Options("t-body-timeout", false);
  o.body_timeout = std::chrono::milliseconds(300);
  Serve(o);
  HttpClient c(server_->port());
  c.set_timeout_ms(3000);
  HttpResponse r = c.Raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 10\r\n\r\n{}");
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(r.header("content-type"), api::kProblemMediaType);
  EXPECT_EQ(JsonAt(r.body, "/status"), "408") << r.body;
}

TEST_F(HttpServerTest, ExpectContinueGetsAnInterimAnswer) {
  Serve(Options("t-continue", false));
  int fd = Open();
  std::string head =
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 2\r\nExpect: 100-continue\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  ASSERT_GT(::poll(&p, 1, 3000), 0);
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_EQ(::send(fd, "{}", 2, MSG_NOSIGNAL), 2);
  ASSERT_GT(::poll(&p, 1, 3000), 0);
  n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)).substr(0, 15), "HTTP/1.1 200 OK");
}

TEST_F(HttpServerTest, KeepAliveAndConnectionClose) {
  Serve(Options("t-keepalive", false));
  HttpClient c(server_->port());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.Request("GET", "/hello").status, 200);
  EXPECT_EQ(c.connections_opened(), 1);
  HttpResponse r = c.Request("GET", "/hello", {{"Connection", "close"}});
  EXPECT_EQ(r.header("connection"), "Close");
  // HTTP/1.0: closed unless asked to keep alive.
  HttpClient old(server_->port());
  r = old.Raw("GET /hello HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.header("connection"), "Close");
  r = old.Raw("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(r.header("connection"), "Keep-Alive");
}

TEST_F(HttpServerTest, IdleConnectionIsClosed) {
  ListenerOptions o = Options("t-idle", false);
  o.idle_timeout = std::chrono::milliseconds(200);
  o.header_timeout = std::chrono::milliseconds(200);
  Serve(o);
  int fd = Open();
  EXPECT_TRUE(ClosedWithin(fd, 3000));
}

TEST_F(HttpServerTest, ClientVanishingMidAnswerIsHarmless) {
  Serve(Options("t-vanish", true));
  for (int i = 0; i < 5; ++i) {
    HttpClient c(server_->port(), TlsClient());
    c.set_timeout_ms(50);
    c.Request("GET", "/big");  // gives up long before 8 MiB arrive
    c.Close();
  }
  for (int i = 0; i < 5; ++i) {
    int fd = Open();
    std::string req = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_RDWR);
  }
  HttpClient c(server_->port(), TlsClient());
  EXPECT_EQ(c.Request("GET", "/hello").status, 200);
}

TEST_F(HttpServerTest, DrainAnswers503AndStopCloses) {
  Serve(Options("t-drain", false));
  HttpClient c(server_->port());
  EXPECT_EQ(c.Request("GET", "/hello").status, 200);
  EXPECT_TRUE(server_->Drain(std::chrono::milliseconds(1000)));
  HttpResponse r = c.Request("GET", "/hello");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("content-type"), api::kProblemMediaType);
  int fd = Open();
  server_->Stop();
  EXPECT_TRUE(ClosedWithin(fd, 2000));
}

}  // namespace
}  // namespace attestd
