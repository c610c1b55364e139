// A small blocking HTTP/1.1 client for tests: real TCP on loopback, one
// persistent connection reused while the server keeps it open, and a count
// of the connections it had to open (to prove keep-alive).
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct ssl_ctx_st;
struct ssl_st;

namespace attestd::testing {

struct HttpResponse {
  int status = 0;  // 0 when the exchange failed (connection refused, reset, timeout)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const;
};

// HTTPS: the server certificate must chain to `ca` (no hostname check, as
// the Keylime tenant does); `cert`/`key`, when set, are presented as the
// client certificate.
struct TlsClientOptions {
  std::string ca, cert, key;
};

class HttpClient {
 public:
  explicit HttpClient(int port, std::string host = "127.0.0.1");
  HttpClient(int port, TlsClientOptions tls);
  ~HttpClient();

  // Sends one request. `headers` are sent as given (no Connection header is
  // added unless the caller adds one); Content-Length is added when a body
  // is given or the method is POST/PUT/PATCH.
  HttpResponse Request(const std::string& method, const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       const std::string& body = "");
  // Sends raw bytes and reads one response (for malformed requests).
  HttpResponse Raw(const std::string& bytes);

  int connections_opened() const { return connections_opened_; }
  void Close();
  void set_timeout_ms(int ms) { timeout_ms_ = ms; }

 private:
  bool EnsureConnected();
  HttpResponse Exchange(const std::string& bytes);
  bool ReadResponse(HttpResponse* out);
  bool StartTls();
  ssize_t SendSome(const char* data, size_t size);
  ssize_t RecvSome(char* buf, size_t size);

  std::string host_;
  int port_;
  int fd_ = -1;
  int connections_opened_ = 0;
  int timeout_ms_ = 10000;
  std::string buffered_;
  std::optional<TlsClientOptions> tls_;
  struct SslCtxFree {
    void operator()(ssl_ctx_st* c) const;
  };
  struct SslFree {
    void operator()(ssl_st* s) const;
  };
  std::unique_ptr<ssl_ctx_st, SslCtxFree> ctx_;
  std::unique_ptr<ssl_st, SslFree> ssl_;
};

}  // namespace attestd::testing
