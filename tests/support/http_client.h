// A small blocking HTTP/1.1 client for tests: real TCP on loopback, one
// persistent connection reused while the server keeps it open, and a count
// of the connections it had to open (to prove keep-alive).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace attestd::testing {

struct HttpResponse {
  int status = 0;  // 0 when the exchange failed (connection refused, reset, timeout)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const;
};

class HttpClient {
 public:
  explicit HttpClient(int port, std::string host = "127.0.0.1");
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

  std::string host_;
  int port_;
  int fd_ = -1;
  int connections_opened_ = 0;
  int timeout_ms_ = 10000;
  std::string buffered_;
};

}  // namespace attestd::testing
