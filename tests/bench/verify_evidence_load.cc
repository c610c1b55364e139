// Load for Keylime's `POST /v2.6/verify/evidence` over mTLS keep-alive
// connections, as a tenant's client would send it: Keylime vector B (the
// quote, nonce and AK of tests/data/keylime/B_test-data_files_emulator).
// wrk cannot present a client certificate, hence this client.
//
//   verify_evidence_load PORT CA CERT KEY CONNECTIONS SECONDS
// Prints "requests N seconds S rps R p50_ms P p99_ms Q failures F"; scripts/bench.sh
// divides attestd's CPU time by N.
#include <utility>  // before Asio, which uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/base64.h"
#include "tests/support/tpm_evidence.h"

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The vector B document, as the verifier integration test sends it.
std::string VectorBBody() {
  using attestd::testing::KeylimeVector;
  using attestd::testing::kVectorB;
  std::string quote = attestd::testing::KeylimeQuoteString(KeylimeVector(kVectorB, "quote.out"),
                                                           KeylimeVector(kVectorB, "quotesig.out"),
                                                           KeylimeVector(kVectorB, "quotepcr.out"));
  std::string policy = R"({\"15\":[\")" + std::string(64, '0') + R"(\"],\"22\":[\")" +
                       std::string(64, 'f') + R"(\"],\"mask\":\"0x408000\"})";
  return R"({"type":"tpm","data":{"quote":")" + quote + R"(","nonce":")" +
         Trimmed(KeylimeVector(kVectorB, "nonce.b64")) + R"(","hash_alg":"sha256","tpm_ek":")" +
         attestd::Base64Encode(KeylimeVector(kVectorB, "ek.pub")) + R"(","tpm_ak":")" +
         attestd::Base64Encode(KeylimeVector(kVectorB, "ak.pub")) + R"(","tpm_policy":")" + policy +
         R"("}})";
}

struct Totals {
  std::mutex mu;
  std::vector<double> latencies_ms;
  long failures = 0;
};

void Connection(int port, ssl::context& ctx, const std::string& body,
                std::chrono::steady_clock::time_point deadline, Totals& totals) {
  std::vector<double> mine;
  long failures = 0;
  try {
    asio::io_context io;
    ssl::stream<tcp::socket> stream(io, ctx);
    stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream.handshake(ssl::stream_base::client);
    http::request<http::string_body> req{http::verb::post, "/v2.6/verify/evidence", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    boost::beast::flat_buffer buffer;
    while (std::chrono::steady_clock::now() < deadline) {
      auto t0 = std::chrono::steady_clock::now();
      http::write(stream, req);
      http::response<http::string_body> res;
      http::read(stream, buffer, res);
      mine.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (res.result_int() != 200 || res.body().find("\"valid\"") == std::string::npos) {
        if (failures++ == 0) std::fprintf(stderr, "unexpected answer: %s\n", res.body().c_str());
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "connection failed: %s\n", e.what());
    ++failures;
  }
  std::lock_guard lock(totals.mu);
  totals.latencies_ms.insert(totals.latencies_ms.end(), mine.begin(), mine.end());
  totals.failures += failures;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s PORT CA CERT KEY CONNECTIONS SECONDS\n", argv[0]);
    return 2;
  }
  int port = std::atoi(argv[1]);
  int connections = std::atoi(argv[5]);
  double seconds = std::atof(argv[6]);
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(argv[2]);
  ctx.use_certificate_chain_file(argv[3]);
  ctx.use_private_key_file(argv[4], ssl::context::pem);
  ctx.set_verify_mode(ssl::verify_peer);
  std::string body = VectorBBody();
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(seconds));
  Totals totals;
  std::vector<std::thread> threads;
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back([&] { Connection(port, ctx, body, deadline, totals); });
  }
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto& l = totals.latencies_ms;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) {
    return l.empty() ? 0.0 : l[std::min(l.size() - 1, size_t(p * l.size()))];
  };
  std::printf("requests %zu seconds %.2f rps %.0f p50_ms %.3f p99_ms %.3f failures %ld\n", l.size(),
              elapsed, l.size() / elapsed, pct(0.50), pct(0.99), totals.failures);
  return totals.failures == 0 ? 0 : 1;
}
