// The baseline scripts/bench.sh measures attestd against: the least a
// Pistache server can do per request (Rest::Router, a fixed 201 body, the
// same keep-alive fix attestd applies). Not a test; built with the benches.
#include <pistache/endpoint.h>
#include <pistache/router.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

using namespace Pistache;

namespace {

void Reply(const Rest::Request&, Http::ResponseWriter response, Http::Code code) {
  response.headers().remove<Http::Header::Connection>();
  response.headers().add<Http::Header::Connection>(Http::ConnectionControl::KeepAlive);
  static const std::string kBody =
      R"({"nonce":"MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=","expiry":"2030-10-12T07:20:50.520Z",)"
      R"("accept":["application/vnd.attestd.tpm2-quote+json"],"state":"waiting"})";
  response.send(code, kBody, MIME(Application, Json));
}

}  // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 18090;
  int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  Http::Endpoint endpoint(Address(Ipv4::loopback(), Port(static_cast<uint16_t>(port))));
  endpoint.init(Http::Endpoint::options().threads(threads).flags(Tcp::Options::ReuseAddr |
                                                                 Tcp::Options::NoDelay));
  Rest::Router router;
  Rest::Routes::Post(router, "/challenge-response/v1/newSession",
                     [](const Rest::Request& rq, Http::ResponseWriter rs) {
                       Reply(rq, std::move(rs), Http::Code::Created);
                       return Rest::Route::Result::Ok;
                     });
  Rest::Routes::Get(router, "/challenge-response/v1/session/:id",
                    [](const Rest::Request& rq, Http::ResponseWriter rs) {
                      Reply(rq, std::move(rs), Http::Code::Ok);
                      return Rest::Route::Result::Ok;
                    });
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &s, nullptr);  // before the server threads exist
  endpoint.setHandler(router.handler());
  endpoint.serveThreaded();
  int sig;
  sigwait(&s, &sig);
  endpoint.shutdown();
  return 0;
}
