#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "server/config.h"
#include "tests/support/processes.h"

namespace attestd {
namespace {

Result<ParsedConfig> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "attestd");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return ParseConfig(static_cast<int>(argv.size()), argv.data());
}

TEST(Config, DefaultsMatchTheContract) {
  auto c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->config.listen, "127.0.0.1:8080");
  EXPECT_EQ(c->config.store, "memory");
  EXPECT_EQ(c->config.session_ttl_s, 300);
  EXPECT_EQ(c->config.result_retention_s, 120);
  EXPECT_EQ(c->config.default_nonce_size, 32u);
  EXPECT_EQ(c->config.max_body, 1u << 20);
  EXPECT_EQ(c->config.verifier_listen, "127.0.0.1:8881");
  EXPECT_FALSE(c->config.insecure_verifier);
  EXPECT_EQ(c->config.quote_interval_s, 2);
  EXPECT_EQ(c->config.verifier_mode, "pull");  // Keylime's default `mode`
}

TEST(Config, VerifierMode) {
  EXPECT_EQ(Parse({"--verifier-mode", "push"})->config.verifier_mode, "push");
  EXPECT_EQ(Parse({"--verifier-mode", "pull"})->config.verifier_mode, "pull");
}

TEST(Config, VerifierListenerOptions) {
  EXPECT_EQ(Parse({"--verifier-listen", "none"})->config.verifier_listen, "none");
  EXPECT_TRUE(Parse({"--insecure-verifier"})->config.insecure_verifier);
  // A Config built in code (tests) keeps the verifier off.
  EXPECT_EQ(Config().verifier_listen, "none");
}

TEST(Config, MaxSessionsAndRateLimit) {
  auto d = Parse({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->config.max_sessions, 100000u);
  EXPECT_EQ(d->config.rate_limit, 0);  // off by default
  EXPECT_EQ(Parse({"--max-sessions", "0"})->config.max_sessions, 0u);
  auto bad_cap = Parse({"--max-sessions", "-1"});
  ASSERT_FALSE(bad_cap.ok());
  EXPECT_NE(bad_cap.status().message().find("--max-sessions"), std::string::npos);

  auto r = Parse({"--rate-limit", "10"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.rate_limit, 10);
  EXPECT_EQ(r->config.rate_limit_burst, 10);
  r = Parse({"--rate-limit", "0.5/5"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.rate_limit, 0.5);
  EXPECT_EQ(r->config.rate_limit_burst, 5);
  EXPECT_EQ(Parse({"--rate-limit", "0.5"})->config.rate_limit_burst, 1);
  EXPECT_EQ(Parse({"--rate-limit", "off"})->config.rate_limit, 0);
  for (const char* bad : {"0", "-1", "abc", "1/0.5", "1/", "/5", "1e3", "nan", "inf", "0x10"}) {
    auto b = Parse({"--rate-limit", bad});
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("--rate-limit"), std::string::npos) << bad;
  }
}

TEST(Config, HelpListsEveryOptionWithDefaults) {
  auto c = Parse({"--help"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->action, ConfigAction::kHelp);
  for (const char* opt : {"--listen", "--threads", "--store", "--session-ttl", "--result-retention",
                          "--default-nonce-size", "--max-body", "--tls-cert", "--tls-key",
                          "--tls-ca", "--log-level", "--config", "(=300)", "(=127.0.0.1:8080)"}) {
    EXPECT_NE(c->help.find(opt), std::string::npos) << opt;
  }
}

TEST(Config, BadValuesNameTheOption) {
  struct Case {
    std::vector<std::string> args;
    const char* option;
  };
  for (const Case& k : std::vector<Case>{{{"--threads", "x"}, "threads"},
                                         {{"--threads", "0"}, "threads"},
                                         {{"--listen", "nowhere"}, "listen"},
                                         {{"--store", "mysql://x"}, "store"},
                                         {{"--default-nonce-size", "7"}, "default-nonce-size"},
                                         {{"--max-body", "lots"}, "max-body"},
                                         {{"--log-level", "loud"}, "log-level"},
                                         {{"--tls-cert", "/nonexistent"}, "tls-cert"},
                                         {{"--session-ttl", "0"}, "session-ttl"},
                                         {{"--verifier-listen", "nowhere"}, "verifier-listen"},
                                         {{"--verifier-tls-cert", "/nonexistent"}, "verifier-tls-"},
                                         {{"--verifier-tls-ca", "/nonexistent"}, "verifier-tls-ca"},
                                         {{"--quote-interval", "-1"}, "quote-interval"},
                                         {{"--verifier-mode", "both"}, "verifier-mode"},
                                         {{"--bogus"}, "bogus"}}) {
    auto c = Parse(k.args);
    ASSERT_FALSE(c.ok()) << k.option;
    EXPECT_NE(c.status().message().find(k.option), std::string::npos) << c.status().message();
    EXPECT_EQ(c.status().message().find('\n'), std::string::npos);
  }
}

TEST(Config, HandshakeLimitsAreFlags) {
  auto d = Parse({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->config.handshake_timeout_s, 10);
  EXPECT_EQ(d->config.max_handshakes, 1024);
  EXPECT_EQ(d->config.max_handshakes_per_address, 128);
  auto c = Parse({"--handshake-timeout", "2.5", "--max-handshakes", "64",
                  "--max-handshakes-per-address", "8"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->config.handshake_timeout_s, 2.5);
  EXPECT_EQ(c->config.max_handshakes, 64);
  EXPECT_EQ(c->config.max_handshakes_per_address, 8);
  for (auto [args, option] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--handshake-timeout", "0"}, "handshake-timeout"},
           {{"--max-handshakes", "0"}, "max-handshakes"},
           {{"--max-handshakes", "4", "--max-handshakes-per-address", "5"},
            "max-handshakes-per-address"}}) {
    auto bad = Parse(args);
    ASSERT_FALSE(bad.ok()) << option;
    EXPECT_NE(bad.status().message().find(option), std::string::npos) << bad.status().message();
  }
  auto help = Parse({"--help"});
  ASSERT_TRUE(help.ok());
  for (const char* opt :
       {"--handshake-timeout", "--max-handshakes", "--max-handshakes-per-address"})
    EXPECT_NE(help->help.find(opt), std::string::npos) << opt;
}

TEST(Config, SizeSuffixes) {
  EXPECT_EQ(Parse({"--max-body", "2M"})->config.max_body, 2u << 20);
  EXPECT_EQ(Parse({"--max-body", "64k"})->config.max_body, 64u << 10);
}

TEST(Config, FlagsBeatEnvironmentWhichBeatsConfigFile) {
  testing::TempDir dir;
  std::string path = dir.path() + "/attestd.ini";
  std::ofstream(path) << "session-ttl = 11\nthreads = 3\nstore = redis://10.0.0.1:6379/0\n";
  ::setenv("ATTESTD_SESSION_TTL", "22", 1);
  ::setenv("ATTESTD_THREADS", "5", 1);
  auto c = Parse({"--config", path, "--session-ttl", "33"});
  ::unsetenv("ATTESTD_SESSION_TTL");
  ::unsetenv("ATTESTD_THREADS");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->config.session_ttl_s, 33);
  EXPECT_EQ(c->config.threads, 5);
  EXPECT_EQ(c->config.store, "redis://10.0.0.1:6379/0");
}

TEST(Config, StorePasswordComesFromTheFileOrElseTheEnvironment) {
  testing::TempDir dir;
  std::string file = dir.path() + "/pw";
  std::ofstream(file) << "from-file\n";
  EXPECT_EQ(Parse({})->config.store_password, "");
  ::setenv("ATTESTD_STORE_PASSWORD", "from-env", 1);
  auto env = Parse({"--store", "redis://h:1/0"});
  auto both = Parse({"--store-password-file", file});
  ::unsetenv("ATTESTD_STORE_PASSWORD");
  ASSERT_TRUE(env.ok() && both.ok());
  EXPECT_EQ(env->config.store_password, "from-env");
  EXPECT_EQ(both->config.store_password, "from-file");
  EXPECT_EQ(Parse({"--store-password-file", file})->config.store_password, "from-file");
  // Not a flag: a password on the command line shows in process listings.
  EXPECT_FALSE(Parse({"--store-password", "x"}).ok());
  auto missing = Parse({"--store-password-file", dir.path() + "/none"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--store-password-file"), std::string::npos);
  std::ofstream(dir.path() + "/empty") << "\n";
  EXPECT_FALSE(Parse({"--store-password-file", dir.path() + "/empty"}).ok());
  auto help = Parse({"--help"});
  EXPECT_NE(help->help.find("--store-password-file"), std::string::npos);
  EXPECT_NE(help->help.find("ATTESTD_STORE_PASSWORD"), std::string::npos);
}

TEST(Config, BadStoreUrlMessageHidesThePassword) {
  auto c = Parse({"--store", "mysql://u:hunter2@h"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().find("hunter2"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("u:***@h"), std::string::npos) << c.status().message();
}

TEST(Config, UnreadableConfigFileIsAnError) {
  auto c = Parse({"--config", "/nonexistent/attestd.ini"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("--config"), std::string::npos);
}

}  // namespace
}  // namespace attestd
