// AgentStore and PolicyStore promises, for the memory store and a real
// redis-server: create/get/delete/list, records returned as stored (JSON
// texts byte for byte, binary AKs, push attestations), Update as an atomic
// read-modify-write under concurrent writers, and policies by kind.
#include <gtest/gtest.h>

#include <thread>

#include "store/memory/memory_agent_store.h"
#include "store/redis/redis_agent_store.h"
#include "tests/support/processes.h"

namespace attestd {
namespace {

class AgentStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok());
      pool_ = std::make_shared<RedisPool>(redis_->pool_options());
      agents_ = std::make_shared<RedisAgentStore>(pool_);
      policies_ = std::make_shared<RedisPolicyStore>(pool_);
    } else {
      agents_ = std::make_shared<MemoryAgentStore>();
      policies_ = std::make_shared<MemoryPolicyStore>();
    }
  }

  static VerifierAgent Make(const std::string& id) {
    VerifierAgent a;
    a.agent_id = id;
    a.tpm_policy = R"({ "15" : ["00"], "mask":"0x8000" })";
    a.ak_tpm = std::string("\x00\x01\xff\x00ak", 6);
    a.metadata = R"({"cert_serial": 7})";
    a.accept_tpm_hash_algs = {"sha256", "sha1"};
    a.accept_tpm_signing_algs = {"rsassa"};
    a.severity_level = 3;
    return a;
  }

  std::unique_ptr<testing::RedisServer> redis_;
  std::shared_ptr<RedisPool> pool_;
  std::shared_ptr<AgentStore> agents_;
  std::shared_ptr<PolicyStore> policies_;
};

TEST_P(AgentStoreTest, CreateGetListDelete) {
  EXPECT_EQ(agents_->Get("a").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(agents_->Create(Make("b")).ok());
  ASSERT_TRUE(agents_->Create(Make("a")).ok());
  EXPECT_EQ(agents_->Create(Make("a")).code(), StatusCode::kConflict);
  auto got = agents_->Get("a");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  VerifierAgent want = Make("a");
  EXPECT_EQ(got->tpm_policy, want.tpm_policy);  // not re-serialized
  EXPECT_EQ(got->ak_tpm, want.ak_tpm);
  EXPECT_EQ(got->metadata, want.metadata);
  EXPECT_EQ(got->accept_tpm_hash_algs, want.accept_tpm_hash_algs);
  EXPECT_EQ(got->severity_level, 3);
  EXPECT_EQ(got->operational_state, AgentState::kGetQuote);
  EXPECT_EQ(*agents_->List(), (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(agents_->Delete("a").ok());
  EXPECT_EQ(agents_->Delete("a").code(), StatusCode::kNotFound);
  EXPECT_EQ(*agents_->List(), (std::vector<std::string>{"b"}));
}

TEST_P(AgentStoreTest, UpdateKeepsAttestationsAndAbortsOnError) {
  ASSERT_TRUE(agents_->Create(Make("a")).ok());
  auto updated = agents_->Update("a", [](VerifierAgent& a) {
    PushAttestation p;
    p.index = 4;
    p.session_id = "s";
    p.failures = {Failure{"x", Value::MakeMap({{"reason", "r"}, {"pcr", 23}})}};
    p.certification_key.public_tpm2b = std::string("\x00k", 2);
    p.certification_key.key_algorithm = "rsa";
    p.certification_key.key_size = 2048;
    p.selected_pcrs = {0, 23};
    p.challenge = "c2VjcmV0";
    a.attestations.push_back(p);
    a.operational_state = AgentState::kTenantFailed;
    a.pop_challenge = std::string(
        "\x00\xff"
        "c",
        3);
    a.token_hash = "ab12";
    a.token_expires_at_ms = 1234567890123;
    a.agent_id = "hijack";  // ignored
    return Status::Ok();
  });
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  auto got = agents_->Get("a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->operational_state, AgentState::kTenantFailed);
  EXPECT_EQ(got->pop_challenge, std::string("\x00\xff"
                                            "c",
                                            3));
  EXPECT_EQ(got->token_hash, "ab12");
  EXPECT_EQ(got->token_expires_at_ms, 1234567890123);
  ASSERT_EQ(got->attestations.size(), 1u);
  EXPECT_EQ(got->attestations[0].index, 4);
  EXPECT_EQ(got->attestations[0].failures,
            (std::vector<Failure>{Failure{"x", Value::MakeMap({{"reason", "r"}, {"pcr", 23}})}}));
  EXPECT_EQ(got->attestations[0].certification_key.public_tpm2b, std::string("\x00k", 2));
  EXPECT_EQ(got->attestations[0].certification_key.key_algorithm, "rsa");
  EXPECT_EQ(got->attestations[0].certification_key.key_size, 2048);
  EXPECT_EQ(got->attestations[0].selected_pcrs, (std::vector<int>{0, 23}));
  EXPECT_EQ(got->attestations[0].challenge, "c2VjcmV0");
  EXPECT_EQ(agents_->Get("hijack").status().code(), StatusCode::kNotFound);

  auto refused = agents_->Update("a", [](VerifierAgent& a) {
    a.attestation_count = 99;
    return Conflict("no");
  });
  EXPECT_EQ(refused.status().code(), StatusCode::kConflict);
  EXPECT_EQ(agents_->Get("a")->attestation_count, 0);
  EXPECT_EQ(agents_->Update("zz", [](VerifierAgent&) { return Status::Ok(); }).status().code(),
            StatusCode::kNotFound);
}

TEST_P(AgentStoreTest, ConcurrentUpdatesLoseNothing) {
  ASSERT_TRUE(agents_->Create(Make("a")).ok());
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto r = agents_->Update("a", [](VerifierAgent& a) {
          ++a.attestation_count;
          return Status::Ok();
        });
        EXPECT_TRUE(r.ok()) << r.status().ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(agents_->Get("a")->attestation_count, kThreads * kEach);
}

TEST_P(AgentStoreTest, PoliciesByKind) {
  NamedPolicy p{"p1", R"({"10": ["aa"]})", "eyJhIjogMX0=", "d1"};
  ASSERT_TRUE(policies_->Create(PolicyKind::kRuntime, p).ok());
  EXPECT_EQ(policies_->Create(PolicyKind::kRuntime, p).code(), StatusCode::kConflict);
  EXPECT_EQ(policies_->Get(PolicyKind::kMeasuredBoot, "p1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(policies_->Replace(PolicyKind::kMeasuredBoot, p).code(), StatusCode::kNotFound);
  ASSERT_TRUE(
      policies_->Create(PolicyKind::kMeasuredBoot, NamedPolicy{"m", "", R"({"x" : 1})", ""}).ok());
  ASSERT_TRUE(policies_->Create(PolicyKind::kRuntime, NamedPolicy{"p0", "", "e30=", ""}).ok());
  p.body = "e30=";
  ASSERT_TRUE(policies_->Replace(PolicyKind::kRuntime, p).ok());
  auto got = policies_->Get(PolicyKind::kRuntime, "p1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "p1");
  EXPECT_EQ(got->tpm_policy, R"({"10": ["aa"]})");
  EXPECT_EQ(got->body, "e30=");
  EXPECT_EQ(policies_->Get(PolicyKind::kMeasuredBoot, "m")->body, R"({"x" : 1})");
  EXPECT_EQ(*policies_->List(PolicyKind::kRuntime), (std::vector<std::string>{"p0", "p1"}));
  EXPECT_EQ(*policies_->List(PolicyKind::kMeasuredBoot), (std::vector<std::string>{"m"}));
  ASSERT_TRUE(policies_->Delete(PolicyKind::kRuntime, "p1").ok());
  EXPECT_EQ(policies_->Delete(PolicyKind::kRuntime, "p1").code(), StatusCode::kNotFound);
  EXPECT_EQ(*policies_->List(PolicyKind::kRuntime), (std::vector<std::string>{"p0"}));
}

TEST_P(AgentStoreTest, PolicyBodiesByDigest) {
  EXPECT_EQ(policies_->GetBody("abc").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(policies_->PutBody("abc", "body one").ok());
  ASSERT_TRUE(policies_->PutBody("abc", "another").ok());  // immutable: kept
  EXPECT_EQ(*policies_->GetBody("abc"), "body one");
  // A named policy's digest is read without its body.
  ASSERT_TRUE(policies_->Create(PolicyKind::kRuntime, NamedPolicy{"n", "", "e30=", "abc"}).ok());
  EXPECT_EQ(*policies_->GetDigest(PolicyKind::kRuntime, "n"), "abc");
  EXPECT_EQ(policies_->Get(PolicyKind::kRuntime, "n")->digest, "abc");
  ASSERT_TRUE(policies_->Create(PolicyKind::kRuntime, NamedPolicy{"old", "", "e30=", ""}).ok());
  EXPECT_EQ(*policies_->GetDigest(PolicyKind::kRuntime, "old"), "");
  EXPECT_EQ(policies_->GetDigest(PolicyKind::kRuntime, "none").status().code(),
            StatusCode::kNotFound);
  // Bodies are not named policies.
  EXPECT_EQ(*policies_->List(PolicyKind::kRuntime), (std::vector<std::string>{"n", "old"}));
}

INSTANTIATE_TEST_SUITE_P(Stores, AgentStoreTest, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace attestd
