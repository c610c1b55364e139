// Configuration: command-line flags, then ATTESTD_* environment variables,
// then an INI file (--config); the first place that sets an option wins.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace attestd {

struct Config {
  std::string listen = "127.0.0.1:8080";
  int threads = 4;
  int workers = 2;
  std::string store = "memory";
  // Redis AUTH password kept off the command line: --store-password-file
  // (its content, trailing newline stripped) or else ATTESTD_STORE_PASSWORD
  // sets store_password, which overrides a password in the store URL.
  std::string store_password_file;
  std::string store_password;  // not an option: filled in by ParseConfig
  int64_t session_ttl_s = 300;
  int64_t result_retention_s = 120;
  size_t default_nonce_size = 32;
  size_t max_body = 1 << 20;
  // Live sessions at most, per store (with Redis: across the instances
  // sharing it); at the cap newSession answers 503 with Retry-After. 0: no cap.
  size_t max_sessions = 100000;
  // Per client address token bucket on newSession and evidence POSTs:
  // --rate-limit RATE[/BURST] (requests per second, burst default
  // max(1, RATE)); "off" (the default) sets rate 0.
  double rate_limit = 0;
  double rate_limit_burst = 0;
  int64_t idle_timeout_s = 60;
  // Every TLS listener: a handshake not finished within this many seconds
  // closes the connection; at most max_handshakes connections (of them
  // max_handshakes_per_address from one client address) may be handshaking.
  double handshake_timeout_s = 10;
  int max_handshakes = 1024;
  int max_handshakes_per_address = 128;
  int64_t reclaim_after_s = 30;
  std::string tls_cert, tls_key, tls_ca;
  std::string log_level = "info";
  std::string session_format = "attestd";
  bool metrics = true;              // record and serve /metrics
  std::string result_key;           // PEM private key signing EARs; empty: ephemeral P-256
  std::string result_key_previous;  // PEM key still listed in the JWKS during rotation
  // Keylime-compatible registrar listeners: host:port or "none". A Config
  // built in code (tests) leaves them off; the command line defaults them
  // to 127.0.0.1:8890 (public) and 127.0.0.1:8891 (admin, mTLS).
  std::string registrar_listen = "none";
  std::string registrar_admin_listen = "none";
  // Admin listener TLS; none given: a CA and certificates generated under
  // data_dir/tls. --insecure-registrar serves the admin routes over HTTP.
  std::string registrar_tls_cert, registrar_tls_key, registrar_tls_ca;
  bool insecure_registrar = false;
  // Keylime-compatible verifier listener: host:port or "none" (a Config
  // built in code leaves it off; the command line defaults to
  // 127.0.0.1:8881). TLS as the registrar admin listener: given files, or
  // the CA under data_dir; --insecure-verifier serves plain HTTP.
  std::string verifier_listen = "none";
  std::string verifier_tls_cert, verifier_tls_key, verifier_tls_ca;
  bool insecure_verifier = false;
  // Keylime's verifier `mode`: "pull" (the verifier polls every agent) or
  // "push" (agents attest through the v3 routes); as Keylime, pull by default.
  std::string verifier_mode = "pull";
  // Push model: seconds between the starts of two attestations of an agent.
  int64_t quote_interval_s = 2;
  // Pull model (Keylime's verifier.conf names): who this verifier is, how
  // it retries an agent that does not answer, its client certificate
  // toward agents, and where revocations go.
  std::string verifier_id = "default";
  int max_retries = 5;
  double retry_interval_s = 2.0;
  bool exponential_backoff = true;
  int pull_threads = 8;
  int pull_concurrency = 1000;
  int64_t agent_timeout_s = 10;
  std::string agent_client_cert, agent_client_key;  // empty: the verifier's generated client cert
  std::string revocation_notifiers;                 // "", "webhook", "agent", "webhook,agent"
  std::string webhook_url;
  std::string data_dir = "attestd-data";  // generated TLS material
  std::string tpm_cert_store;  // directory of TPM vendor CA certificates; empty: no EK chain check
};

enum class ConfigAction { kRun, kHelp, kVersion };

struct ParsedConfig {
  Config config;
  ConfigAction action = ConfigAction::kRun;
  std::string help;  // the --help text, when action is kHelp
};

// kInvalidArgument with a one-line message naming the offending option.
Result<ParsedConfig> ParseConfig(int argc, const char* const* argv);

}  // namespace attestd
