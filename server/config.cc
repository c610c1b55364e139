#include "server/config.h"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "api/http_server.h"
#include "common/log.h"
#include "service/keylime/verifier_mode.h"
#include "store/redis/redis_url.h"

namespace po = boost::program_options;

namespace attestd {

namespace {

// "1048576", "1024k", "1M" (binary multiples).
bool ParseSize(const std::string& text, size_t* out) {
  if (text.empty()) return false;
  size_t mult = 1;
  std::string digits = text;
  char last = static_cast<char>(std::tolower(static_cast<unsigned char>(text.back())));
  if (last == 'k' || last == 'm') {
    mult = last == 'k' ? 1024 : 1024 * 1024;
    digits.pop_back();
  }
  if (digits.empty() || digits.size() > 12) return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  *out = std::stoull(digits) * mult;
  return true;
}

// A positive decimal number ("10", "0.5"); false otherwise.
bool ParseRate(const std::string& text, double* out) {
  if (text.empty() || text.size() > 12) return false;
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    return false;
  }
  if (used != text.size() || !(v > 0) || v > 1e6 ||
      text.find_first_of("eEnNxX") != std::string::npos) {
    return false;
  }
  *out = v;
  return true;
}

// "off", or RATE[/BURST]: requests per second per client address, and the
// bucket size (default max(1, RATE)).
bool ParseRateLimit(const std::string& text, double* rate, double* burst) {
  if (text == "off" || text.empty()) {
    *rate = *burst = 0;
    return true;
  }
  size_t slash = text.find('/');
  if (!ParseRate(text.substr(0, slash), rate)) return false;
  *burst = std::max(1.0, *rate);
  if (slash == std::string::npos) return true;
  return ParseRate(text.substr(slash + 1), burst) && *burst >= 1;
}

po::options_description Describe(Config& c, std::string& max_body, std::string& rate_limit) {
  po::options_description d(
      "attestd options (flags, ATTESTD_<NAME> environment variables, or "
      "name = value lines in --config)");
  // clang-format off
  d.add_options()
    ("help,h", "print this help and exit")
    ("version", "print the version and exit")
    ("config", po::value<std::string>(), "INI file of option = value lines")
    ("listen", po::value(&c.listen)->default_value(c.listen), "challenge-response listener, host:port")
    ("threads", po::value(&c.threads)->default_value(c.threads), "HTTP threads")
    ("workers", po::value(&c.workers)->default_value(c.workers), "appraisal worker threads (work queue)")
    ("store", po::value(&c.store)->default_value(c.store), "memory | redis://[[user]:password@]host:port/db | redis+unix:///path?db=N[&user=U][&password=P] (user and password percent-encoded)")
    ("store-password-file", po::value(&c.store_password_file)->default_value(c.store_password_file), "file holding the Redis AUTH password (trailing newline stripped); it overrides the environment variable ATTESTD_STORE_PASSWORD, and either overrides a password in --store")
    ("session-ttl", po::value(&c.session_ttl_s)->default_value(c.session_ttl_s), "seconds a new session lives")
    ("result-retention", po::value(&c.result_retention_s)->default_value(c.result_retention_s), "seconds a session lives at least after evidence arrives")
    ("default-nonce-size", po::value(&c.default_nonce_size)->default_value(c.default_nonce_size), "nonce bytes when the client asks for none (8..64)")
    ("max-body", po::value(&max_body)->default_value(max_body), "largest request body, bytes (k/M suffixes allowed)")
    ("max-sessions", po::value(&c.max_sessions)->default_value(c.max_sessions), "live sessions at most (with Redis: across the instances sharing it); beyond, newSession answers 503 with Retry-After; 0: no cap")
    ("rate-limit", po::value(&rate_limit)->default_value(rate_limit), "off | RATE[/BURST]: per client address (IPv6: per /64), RATE newSession and evidence POSTs per second after a burst of BURST (default max(1, RATE)); beyond, 429 with Retry-After")
    ("idle-timeout", po::value(&c.idle_timeout_s)->default_value(c.idle_timeout_s), "seconds an idle keep-alive connection stays open")
    ("handshake-timeout", po::value(&c.handshake_timeout_s)->default_value(c.handshake_timeout_s), "seconds a TLS handshake may take before its connection is closed (every TLS listener)")
    ("max-handshakes", po::value(&c.max_handshakes)->default_value(c.max_handshakes), "connections handshaking at once per TLS listener; more are closed at accept")
    ("max-handshakes-per-address", po::value(&c.max_handshakes_per_address)->default_value(c.max_handshakes_per_address), "connections from one client address handshaking at once per TLS listener")
    ("reclaim-after", po::value(&c.reclaim_after_s)->default_value(c.reclaim_after_s), "seconds before queued work of a dead worker is redelivered")
    ("tls-cert", po::value(&c.tls_cert)->default_value(c.tls_cert), "PEM certificate: serve HTTPS")
    ("tls-key", po::value(&c.tls_key)->default_value(c.tls_key), "PEM private key for --tls-cert")
    ("tls-ca", po::value(&c.tls_ca)->default_value(c.tls_ca), "PEM CA: require client certificates it issued")
    ("log-level", po::value(&c.log_level)->default_value(c.log_level), "debug | info | warn | error | off")
    ("session-format", po::value(&c.session_format)->default_value(c.session_format), "attestd | veraison (what Veraison's clients parse)")
    ("metrics", po::value(&c.metrics)->default_value(c.metrics), "record metrics and serve /metrics (true | false)")
    ("result-key", po::value(&c.result_key)->default_value(c.result_key), "PEM private key (EC P-256/P-384 or RSA) signing results; empty: an ephemeral P-256 key")
    ("result-key-previous", po::value(&c.result_key_previous)->default_value(c.result_key_previous), "PEM key of the previous result key, still published in the JWKS")
    ("registrar-listen", po::value(&c.registrar_listen)->default_value(std::string("127.0.0.1:8890")), "Keylime registrar, public (agents register and activate; plain HTTP), host:port or none")
    ("registrar-admin-listen", po::value(&c.registrar_admin_listen)->default_value(std::string("127.0.0.1:8891")), "Keylime registrar, admin (tenant: list, get, delete; mTLS), host:port or none")
    ("registrar-tls-cert", po::value(&c.registrar_tls_cert)->default_value(c.registrar_tls_cert), "PEM certificate of the registrar admin listener; empty: generated under --data-dir")
    ("registrar-tls-key", po::value(&c.registrar_tls_key)->default_value(c.registrar_tls_key), "PEM private key for --registrar-tls-cert")
    ("registrar-tls-ca", po::value(&c.registrar_tls_ca)->default_value(c.registrar_tls_ca), "PEM CA whose client certificates the registrar admin listener accepts")
    ("insecure-registrar", po::value(&c.insecure_registrar)->default_value(false)->implicit_value(true), "serve the registrar admin listener over plain HTTP (testing only)")
    ("verifier-listen", po::value(&c.verifier_listen)->default_value(std::string("127.0.0.1:8881")), "Keylime verifier (tenant and push agents; mTLS), host:port or none")
    ("verifier-tls-cert", po::value(&c.verifier_tls_cert)->default_value(c.verifier_tls_cert), "PEM certificate of the verifier listener; empty: generated under --data-dir")
    ("verifier-tls-key", po::value(&c.verifier_tls_key)->default_value(c.verifier_tls_key), "PEM private key for --verifier-tls-cert")
    ("verifier-tls-ca", po::value(&c.verifier_tls_ca)->default_value(c.verifier_tls_ca), "PEM CA whose client certificates the verifier listener accepts")
    ("insecure-verifier", po::value(&c.insecure_verifier)->default_value(false)->implicit_value(true), "serve the verifier listener over plain HTTP (testing only)")
    ("verifier-mode", po::value(&c.verifier_mode)->default_value(c.verifier_mode), "pull (the verifier polls agents) | push (agents attest through /v3); Keylime's verifier.conf `mode`")
    ("quote-interval", po::value(&c.quote_interval_s)->default_value(c.quote_interval_s), "push model: seconds an agent waits between attestations")
    ("verifier-id", po::value(&c.verifier_id)->default_value(c.verifier_id), "this verifier's id (Keylime's uuid); reported as verifier_id of the agents it polls")
    ("max-retries", po::value(&c.max_retries)->default_value(c.max_retries), "pull model: tries before an agent that does not answer is FAILED")
    ("retry-interval", po::value(&c.retry_interval_s)->default_value(c.retry_interval_s), "pull model: seconds between tries (the base with --exponential-backoff)")
    ("exponential-backoff", po::value(&c.exponential_backoff)->default_value(c.exponential_backoff), "pull model: wait retry-interval^tries between tries (true | false)")
    ("pull-threads", po::value(&c.pull_threads)->default_value(c.pull_threads), "pull model: threads that appraise agents' answers")
    ("pull-concurrency", po::value(&c.pull_concurrency)->default_value(c.pull_concurrency), "pull model: agents polled at once")
    ("agent-timeout", po::value(&c.agent_timeout_s)->default_value(c.agent_timeout_s), "pull model: seconds one request to an agent may take")
    ("agent-client-cert", po::value(&c.agent_client_cert)->default_value(c.agent_client_cert), "PEM client certificate presented to pull agents; empty: the verifier's generated client certificate")
    ("agent-client-key", po::value(&c.agent_client_key)->default_value(c.agent_client_key), "PEM private key for --agent-client-cert")
    ("revocation-notifiers", po::value(&c.revocation_notifiers)->default_value(c.revocation_notifiers), "where revocations go when a pull agent fails: comma list of webhook, agent (empty: nowhere)")
    ("webhook-url", po::value(&c.webhook_url)->default_value(c.webhook_url), "revocation webhook: http(s) URL POSTed Keylime's revocation message")
    ("data-dir", po::value(&c.data_dir)->default_value(c.data_dir), "directory for generated TLS material (created 0700)")
    ("tpm-cert-store", po::value(&c.tpm_cert_store)->default_value(c.tpm_cert_store), "directory of TPM vendor CA certificates; EK certificates must chain to one");
  // clang-format on
  return d;
}

// The --<name>-tls-* options of a listener that requires client
// certificates when it serves TLS.
Status ValidateListenerTls(const std::string& name, const std::string& cert, const std::string& key,
                           const std::string& ca, bool insecure) {
  std::string p = "--" + name + "-tls-";
  if (cert.empty() != key.empty()) {
    return InvalidArgument(p + "cert: " + p + "cert and " + p + "key go together");
  }
  if (!cert.empty() && ca.empty() && !insecure) {
    return InvalidArgument(p + "ca: the " + name +
                           " listener requires client certificates: give their CA");
  }
  if (!ca.empty() && cert.empty())
    return InvalidArgument(p + "ca: needs " + p + "cert and " + p + "key");
  for (const auto& [opt, path] : {std::pair{"cert", cert}, {"key", key}, {"ca", ca}}) {
    if (!path.empty() && !std::ifstream(path)) {
      return InvalidArgument(p + opt + ": cannot read '" + path + "'");
    }
  }
  return Status::Ok();
}

// Fills c->store_password from --store-password-file, or else from
// ATTESTD_STORE_PASSWORD. Messages never quote the password.
Status LoadStorePassword(Config* c) {
  if (c->store_password_file.empty()) {
    const char* env = std::getenv("ATTESTD_STORE_PASSWORD");
    if (env != nullptr) c->store_password = env;
    return Status::Ok();
  }
  std::ifstream in(c->store_password_file, std::ios::binary);
  if (!in) {
    return InvalidArgument("--store-password-file: cannot read '" + c->store_password_file + "'");
  }
  std::ostringstream content;
  content << in.rdbuf();
  std::string password = content.str();
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
    password.pop_back();
  }
  if (password.empty()) return InvalidArgument("--store-password-file: the file is empty");
  c->store_password = std::move(password);
  return Status::Ok();
}

Status Validate(const Config& c) {
  auto bad = [](const std::string& opt, const std::string& why) {
    return InvalidArgument("--" + opt + ": " + why);
  };
  std::string host;
  int port;
  if (!api::SplitHostPort(c.listen, &host, &port))
    return bad("listen", "want host:port, got '" + c.listen + "'");
  if (c.threads < 1 || c.threads > 256) return bad("threads", "must be 1..256");
  if (c.workers < 0 || c.workers > 256) return bad("workers", "must be 0..256");
  if (c.session_ttl_s < 1) return bad("session-ttl", "must be at least 1 second");
  if (c.result_retention_s < 1) return bad("result-retention", "must be at least 1 second");
  if (c.default_nonce_size < 8 || c.default_nonce_size > 64)
    return bad("default-nonce-size", "must be 8..64");
  if (c.max_body < 1) return bad("max-body", "must be positive");
  if (c.max_sessions > 100000000) return bad("max-sessions", "must be 0..100000000");
  if (c.idle_timeout_s < 1) return bad("idle-timeout", "must be at least 1 second");
  if (c.reclaim_after_s < 1) return bad("reclaim-after", "must be at least 1 second");
  if (!(c.handshake_timeout_s >= 0.1 && c.handshake_timeout_s <= 600))
    return bad("handshake-timeout", "must be 0.1..600 seconds");
  if (c.max_handshakes < 1) return bad("max-handshakes", "must be at least 1");
  if (c.max_handshakes_per_address < 1 || c.max_handshakes_per_address > c.max_handshakes)
    return bad("max-handshakes-per-address", "must be 1..max-handshakes");
  if (c.store != "memory" && c.store.rfind("redis://", 0) != 0 &&
      c.store.rfind("redis+unix://", 0) != 0) {
    return bad("store", "want memory, redis://host:port/db or redis+unix:///path, got '" +
                            RedactStoreUrl(c.store) + "'");
  }
  if (c.tls_cert.empty() != c.tls_key.empty())
    return bad("tls-cert", "--tls-cert and --tls-key go together");
  if (!c.tls_ca.empty() && c.tls_cert.empty())
    return bad("tls-ca", "needs --tls-cert and --tls-key");
  for (const auto& [opt, path] : {std::pair{"tls-cert", c.tls_cert},
                                  {"tls-key", c.tls_key},
                                  {"tls-ca", c.tls_ca},
                                  {"result-key", c.result_key},
                                  {"result-key-previous", c.result_key_previous}}) {
    if (!path.empty() && !std::ifstream(path)) return bad(opt, "cannot read '" + path + "'");
  }
  for (const auto& [opt, address] : {std::pair{"registrar-listen", c.registrar_listen},
                                     {"registrar-admin-listen", c.registrar_admin_listen},
                                     {"verifier-listen", c.verifier_listen}}) {
    if (address != "none" && !api::SplitHostPort(address, &host, &port)) {
      return bad(opt, "want host:port or none, got '" + address + "'");
    }
  }
  if (Status st = ValidateListenerTls("registrar", c.registrar_tls_cert, c.registrar_tls_key,
                                      c.registrar_tls_ca, c.insecure_registrar);
      !st.ok()) {
    return st;
  }
  if (Status st = ValidateListenerTls("verifier", c.verifier_tls_cert, c.verifier_tls_key,
                                      c.verifier_tls_ca, c.insecure_verifier);
      !st.ok()) {
    return st;
  }
  if (!ParseVerifierMode(c.verifier_mode)) return bad("verifier-mode", "want pull or push");
  if (c.quote_interval_s < 0) return bad("quote-interval", "must not be negative");
  if (c.max_retries < 0) return bad("max-retries", "must not be negative");
  if (c.retry_interval_s < 0) return bad("retry-interval", "must not be negative");
  if (c.pull_threads < 1) return bad("pull-threads", "must be at least 1");
  if (c.pull_concurrency < 1) return bad("pull-concurrency", "must be at least 1");
  if (c.agent_timeout_s < 1) return bad("agent-timeout", "must be at least 1");
  if (c.agent_client_cert.empty() != c.agent_client_key.empty())
    return bad("agent-client-cert", "--agent-client-cert and --agent-client-key go together");
  {
    std::stringstream list(c.revocation_notifiers);
    std::string item;
    while (std::getline(list, item, ',')) {
      if (item != "webhook" && item != "agent" && !item.empty())
        return bad("revocation-notifiers", "want a comma list of webhook, agent");
      if (item == "webhook" && c.webhook_url.empty())
        return bad("webhook-url", "the webhook notifier needs --webhook-url");
    }
  }
  LogLevel lvl;
  if (!ParseLogLevel(c.log_level, &lvl))
    return bad("log-level", "want debug, info, warn, error or off");
  if (c.session_format != "attestd" && c.session_format != "veraison") {
    return bad("session-format", "want attestd or veraison");
  }
  return Status::Ok();
}

}  // namespace

Result<ParsedConfig> ParseConfig(int argc, const char* const* argv) {
  ParsedConfig out;
  std::string max_body = std::to_string(out.config.max_body);
  std::string rate_limit = "off";
  po::options_description desc = Describe(out.config, max_body, rate_limit);
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::store(po::parse_environment(desc,
                                    [&desc](const std::string& env) -> std::string {
                                      if (env.rfind("ATTESTD_", 0) != 0) return "";
                                      std::string name = env.substr(8);
                                      for (char& ch : name) {
                                        ch = ch == '_' ? '-' : static_cast<char>(std::tolower(ch));
                                      }
                                      return desc.find_nothrow(name, false) ? name : "";
                                    }),
              vm);
    if (vm.count("config")) {
      std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) return InvalidArgument("--config: cannot read '" + path + "'");
      po::store(po::parse_config_file(in, desc), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return InvalidArgument(e.what());
  }
  if (vm.count("help")) {
    std::ostringstream os;
    os << desc;
    out.help = os.str();
    out.action = ConfigAction::kHelp;
    return out;
  }
  if (vm.count("version")) {
    out.action = ConfigAction::kVersion;
    return out;
  }
  if (!ParseSize(max_body, &out.config.max_body)) {
    return InvalidArgument("--max-body: want a byte count such as 1048576, 1024k or 1M");
  }
  if (!ParseRateLimit(rate_limit, &out.config.rate_limit, &out.config.rate_limit_burst)) {
    return InvalidArgument(
        "--rate-limit: want off or RATE[/BURST] (requests per second, e.g. 10 or 0.5/5)");
  }
  if (Status st = Validate(out.config); !st.ok()) return st;
  if (Status st = LoadStorePassword(&out.config); !st.ok()) return st;
  return out;
}

}  // namespace attestd
