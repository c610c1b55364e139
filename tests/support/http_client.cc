#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>

namespace attestd::testing {

std::string HttpResponse::header(const std::string& name) const {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  auto it = headers.find(lower);
  return it == headers.end() ? "" : it->second;
}

HttpClient::HttpClient(int port, std::string host) : host_(std::move(host)), port_(port) {}

HttpClient::HttpClient(int port, TlsClientOptions tls)
    : host_("127.0.0.1"), port_(port), tls_(std::move(tls)) {}

HttpClient::~HttpClient() { Close(); }

void HttpClient::SslCtxFree::operator()(ssl_ctx_st* c) const { SSL_CTX_free(c); }
void HttpClient::SslFree::operator()(ssl_st* s) const { SSL_free(s); }

bool HttpClient::StartTls() {
  if (!ctx_) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx_ || SSL_CTX_load_verify_locations(ctx_.get(), tls_->ca.c_str(), nullptr) != 1)
      return false;
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    if (!tls_->cert.empty() &&
        (SSL_CTX_use_certificate_chain_file(ctx_.get(), tls_->cert.c_str()) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx_.get(), tls_->key.c_str(), SSL_FILETYPE_PEM) != 1)) {
      return false;
    }
  }
  ssl_.reset(SSL_new(ctx_.get()));
  SSL_set_fd(ssl_.get(), fd_);
  if (SSL_connect(ssl_.get()) != 1) {
    ERR_clear_error();
    return false;
  }
  return true;
}

ssize_t HttpClient::SendSome(const char* data, size_t size) {
  if (ssl_) return SSL_write(ssl_.get(), data, static_cast<int>(size));
  return ::send(fd_, data, size, MSG_NOSIGNAL);
}

ssize_t HttpClient::RecvSome(char* buf, size_t size) {
  if (ssl_) return SSL_read(ssl_.get(), buf, static_cast<int>(size));
  return ::recv(fd_, buf, size, 0);
}

void HttpClient::Close() {
  ssl_.reset();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffered_.clear();
}

bool HttpClient::EnsureConnected() {
  if (fd_ >= 0) {
    // A server that closed the idle connection shows as readable with EOF.
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) return true;
    char c;
    if (::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0) return true;
    Close();
  }
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  ::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Close();
    return false;
  }
  // With TLS 1.3 a refused client certificate shows only after the
  // handshake, as an alert on the first read; StartTls catches the rest.
  if (tls_ && !StartTls()) {
    Close();
    return false;
  }
  ++connections_opened_;
  return true;
}

HttpResponse HttpClient::Request(const std::string& method, const std::string& target,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 const std::string& body) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host_ + "\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  req += body;
  return Exchange(req);
}

HttpResponse HttpClient::Raw(const std::string& bytes) { return Exchange(bytes); }

HttpResponse HttpClient::Exchange(const std::string& bytes) {
  HttpResponse resp;
  if (!EnsureConnected()) return resp;
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = SendSome(bytes.data() + sent, bytes.size() - sent);
    if (n <= 0) break;  // the server may answer (413) before reading everything
    sent += static_cast<size_t>(n);
  }
  if (!ReadResponse(&resp)) {
    Close();
    resp.status = 0;
    return resp;
  }
  std::string conn = resp.header("connection");
  std::transform(conn.begin(), conn.end(), conn.begin(), ::tolower);
  if (conn == "close") Close();
  return resp;
}

bool HttpClient::ReadResponse(HttpResponse* out) {
  auto fill = [&]() -> bool {
    pollfd p{fd_, POLLIN, 0};
    bool pending = ssl_ && SSL_pending(ssl_.get()) > 0;
    if (!pending && ::poll(&p, 1, timeout_ms_) <= 0) return false;
    char buf[65536];
    ssize_t n = RecvSome(buf, sizeof buf);
    if (n <= 0) return false;
    buffered_.append(buf, static_cast<size_t>(n));
    return true;
  };
  size_t end;
  while ((end = buffered_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return false;
  }
  std::string head = buffered_.substr(0, end);
  buffered_.erase(0, end + 4);
  size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  if (status_line.size() < 12) return false;
  out->status = std::atoi(status_line.c_str() + 9);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string k = line.substr(0, colon);
      std::transform(k.begin(), k.end(), k.begin(), ::tolower);
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      out->headers[k] = v;
    }
    pos = e + 2;
  }
  size_t len = 0;
  auto cl = out->headers.find("content-length");
  if (cl != out->headers.end()) len = std::stoul(cl->second);
  while (buffered_.size() < len) {
    if (!fill()) return false;
  }
  out->body = buffered_.substr(0, len);
  buffered_.erase(0, len);
  return true;
}

}  // namespace attestd::testing
