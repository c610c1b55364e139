// Redis AUTH against a real redis-server started with --requirepass: every
// connection (pool, pipeline, the queue's blocking ones) authenticates; a
// wrong or missing password is kUnavailable and no message or log line
// names a password.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "common/log.h"
#include "common/time_util.h"
#include "server/config.h"
#include "store/redis/redis_pool.h"
#include "store/stores.h"
#include "tests/support/processes.h"

namespace attestd {
namespace {

using namespace std::chrono_literals;

constexpr char kPassword[] = "s3cr3t-Pa55";
constexpr char kWrong[] = "wr0ng-guess";

std::string UrlFor(const testing::RedisServer& redis, const std::string& userinfo, int db = 0) {
  return "redis://" + userinfo + "@127.0.0.1:" + std::to_string(redis.port()) + "/" +
         std::to_string(db);
}

Session SessionFor(std::string id) {
  Session s;
  s.id = std::move(id);
  s.nonce = "nonce";
  s.expiry_ms = NowMillis() + 60000;
  return s;
}

// Creates and reads back a session, enqueues and dequeues its id: the pool's
// connections and the queue's blocking ones.
void ExpectRoundTrip(Stores& stores, const std::string& id) {
  ASSERT_TRUE(stores.sessions->Ping().ok()) << stores.sessions->Ping().ToString();
  ASSERT_TRUE(stores.sessions->Create(SessionFor(id)).ok());
  Result<Session> got = stores.sessions->Get(id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->nonce, "nonce");
  ASSERT_TRUE(stores.queue->Enqueue(id).ok());
  Result<std::optional<WorkItem>> item = stores.queue->Dequeue(2s);
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  ASSERT_TRUE(item->has_value());
  EXPECT_EQ((*item)->session_id, id);
}

// What the pipeline (CommandAsync) answers to PING.
Status AsyncPing(RedisPool& pool) {
  std::promise<Status> answer;
  pool.CommandAsync({"PING"}, [&answer](Result<RedisReply> reply) {
    answer.set_value(reply.ok() ? Status::Ok() : reply.status());
  });
  return answer.get_future().get();
}

void ExpectNoSecret(const std::string& text) {
  EXPECT_EQ(text.find(kPassword), std::string::npos) << text;
  EXPECT_EQ(text.find(kWrong), std::string::npos) << text;
}

class RedisAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogLevel(LogLevel::kInfo);  // the tests read the log; others may have turned it off
    ASSERT_TRUE(redis_.ok()) << "could not start redis-server";
  }

  Result<Stores> Open(const std::string& url, const std::string& password = "") {
    StoreOptions options;
    options.url = url;
    options.password = password;
    options.command_timeout_ms = 1000;
    return OpenStores(options);
  }

  testing::RedisServer redis_{kPassword};
};

TEST_F(RedisAuth, TheRightPasswordOpensEveryConnection) {
  Result<Stores> stores = Open(UrlFor(redis_, std::string(":") + kPassword, 2));
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  ExpectRoundTrip(*stores, "2f1c0c3e-4d5b-4a8e-9f00-0000000000a1");
  EXPECT_TRUE(AsyncPing(*stores->redis).ok());
  // AUTH came before SELECT: the session is in database 2.
  EXPECT_NE(redis_.Cli("-n 2 DBSIZE"), "0");
  EXPECT_EQ(redis_.Cli("-n 0 DBSIZE"), "0");
}

TEST_F(RedisAuth, AWrongPasswordIsUnavailableAndNamesNoSecret) {
  Result<Stores> stores = Open(UrlFor(redis_, std::string("default:") + kWrong));
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  ::testing::internal::CaptureStderr();
  Status ping = stores->sessions->Ping();
  Status create = stores->sessions->Create(SessionFor("2f1c0c3e-4d5b-4a8e-9f00-0000000000a2"));
  std::string logs = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(ping.code(), StatusCode::kUnavailable);
  EXPECT_NE(ping.message().find("authentication failed (WRONGPASS)"), std::string::npos)
      << ping.ToString();
  EXPECT_EQ(create.code(), StatusCode::kUnavailable);
  EXPECT_NE(logs.find("redis unreachable"), std::string::npos) << logs;
  ExpectNoSecret(ping.ToString() + create.ToString() + logs);
}

TEST_F(RedisAuth, AWrongPasswordFailsThePipelineToo) {
  Result<Stores> stores = Open(UrlFor(redis_, std::string(":") + kWrong));
  ASSERT_TRUE(stores.ok());
  Status status = AsyncPing(*stores->redis);
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  ExpectNoSecret(status.ToString());
}

TEST_F(RedisAuth, AMissingPasswordIsUnavailable) {
  for (int db : {0, 3}) {  // the first command, or SELECT, meets NOAUTH
    Result<Stores> stores =
        Open("redis://127.0.0.1:" + std::to_string(redis_.port()) + "/" + std::to_string(db));
    ASSERT_TRUE(stores.ok());
    Status ping = stores->sessions->Ping();
    EXPECT_EQ(ping.code(), StatusCode::kUnavailable) << "db " << db << ": " << ping.ToString();
    EXPECT_NE(ping.message().find("NOAUTH"), std::string::npos) << ping.ToString();
    Status async = AsyncPing(*stores->redis);
    EXPECT_EQ(async.code(), StatusCode::kUnavailable) << async.ToString();
  }
}

TEST_F(RedisAuth, TheOptionsPasswordOverridesTheUrls) {
  Result<Stores> stores = Open(UrlFor(redis_, std::string(":") + kWrong), kPassword);
  ASSERT_TRUE(stores.ok());
  ExpectRoundTrip(*stores, "2f1c0c3e-4d5b-4a8e-9f00-0000000000a3");
}

TEST_F(RedisAuth, APasswordFileConfiguresTheStore) {
  testing::TempDir dir;
  std::string file = dir.path() + "/redis-password";
  std::ofstream(file) << kPassword << "\n";
  std::string url = "redis://127.0.0.1:" + std::to_string(redis_.port()) + "/1";
  std::vector<const char*> argv = {"attestd", "--store", url.c_str(), "--store-password-file",
                                   file.c_str()};
  Result<ParsedConfig> parsed = ParseConfig(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  Result<Stores> stores = Open(parsed->config.store, parsed->config.store_password);
  ASSERT_TRUE(stores.ok());
  ExpectRoundTrip(*stores, "2f1c0c3e-4d5b-4a8e-9f00-0000000000a4");
}

TEST_F(RedisAuth, AnAclUserAuthenticatesWithItsName) {
  ASSERT_EQ(redis_.Cli("ACL SETUSER alice on '>alice-Pw%1' '~*' '&*' '+@all'"), "OK");
  // '%' percent-encoded in the URL.
  Result<Stores> stores = Open(UrlFor(redis_, "alice:alice-Pw%251"));
  ASSERT_TRUE(stores.ok());
  ExpectRoundTrip(*stores, "2f1c0c3e-4d5b-4a8e-9f00-0000000000a5");

  Result<Stores> wrong = Open(UrlFor(redis_, "alice:nope"));
  ASSERT_TRUE(wrong.ok());
  Status ping = wrong->sessions->Ping();
  EXPECT_EQ(ping.code(), StatusCode::kUnavailable);
  EXPECT_NE(ping.message().find("authentication failed (WRONGPASS)"), std::string::npos)
      << ping.ToString();
  EXPECT_EQ(ping.message().find("nope"), std::string::npos);
}

TEST(RedisAuthUnix, APasswordInTheQueryAuthenticatesOverAUnixSocket) {
  testing::TempDir dir;
  std::string socket = dir.path() + "/redis.sock";
  pid_t pid =
      testing::Spawn({"redis-server", "--port", "0", "--unixsocket", socket, "--save", "",
                      "--appendonly", "no", "--dir", dir.path(), "--requirepass", kPassword});
  ASSERT_GT(pid, 0);
  StoreOptions options;
  options.url = "redis+unix://" + socket + "?db=4&password=" + kPassword;
  Result<Stores> stores = OpenStores(options);
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!stores->sessions->Ping().ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  ExpectRoundTrip(*stores, "2f1c0c3e-4d5b-4a8e-9f00-0000000000a6");
  testing::StopProcess(pid);
}

}  // namespace
}  // namespace attestd
