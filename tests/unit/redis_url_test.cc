// Store URLs with credentials: parsing, percent-decoding, and redaction in
// every message that quotes a URL.
#include <gtest/gtest.h>

#include <string>

#include "store/redis/redis_url.h"
#include "store/stores.h"

namespace attestd {
namespace {

TEST(RedisUrlCredentials, UserAndPasswordArePercentDecoded) {
  Result<RedisEndpoint> both = ParseRedisUrl("redis://app%2D1:p%40ss%3Aw%25@cache:6380/2");
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(both->user, "app-1");
  EXPECT_EQ(both->password, "p@ss:w%");
  EXPECT_EQ(both->host, "cache");
  EXPECT_EQ(both->port, 6380);
  EXPECT_EQ(both->db, 2);

  Result<RedisEndpoint> password_only = ParseRedisUrl("redis://:secret@cache/1");
  ASSERT_TRUE(password_only.ok()) << password_only.status().ToString();
  EXPECT_EQ(password_only->user, "");
  EXPECT_EQ(password_only->password, "secret");
  EXPECT_EQ(password_only->db, 1);

  Result<RedisEndpoint> user_only = ParseRedisUrl("redis://alice@cache");
  ASSERT_TRUE(user_only.ok());
  EXPECT_EQ(user_only->user, "alice");
  EXPECT_EQ(user_only->password, "");

  Result<RedisEndpoint> none = ParseRedisUrl("redis://cache:6379/0");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->user, "");
  EXPECT_EQ(none->password, "");
}

TEST(RedisUrlCredentials, UnencodedSlashAndAtInThePasswordStayInIt) {
  Result<RedisEndpoint> ep = ParseRedisUrl("redis://u:a/b@c@[::1]:7000/3");
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  EXPECT_EQ(ep->password, "a/b@c");
  EXPECT_EQ(ep->host, "::1");
  EXPECT_EQ(ep->port, 7000);
  EXPECT_EQ(ep->db, 3);
}

TEST(RedisUrlCredentials, UnixSocketQueryTakesUserAndPassword) {
  Result<RedisEndpoint> ep =
      ParseRedisUrl("redis+unix:///run/redis.sock?password=s%26x&db=4&user=bob");
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  EXPECT_EQ(ep->unix_path, "/run/redis.sock");
  EXPECT_EQ(ep->db, 4);
  EXPECT_EQ(ep->user, "bob");
  EXPECT_EQ(ep->password, "s&x");
}

TEST(RedisUrlCredentials, ErrorsNeverQuoteThePassword) {
  for (const char* url :
       {"redis://u:hunter2@host:port/0", "redis://u:hunter2%zz@host/0", "redis://:hunter2@host/x",
        "redis://u:hunter2@host/0?timeout=1", "redis+unix:///tmp/s?password=hunter2&timeout=1",
        "redis+unix:///tmp/s?password=hunter2%g1"}) {
    Result<RedisEndpoint> ep = ParseRedisUrl(url);
    ASSERT_FALSE(ep.ok()) << url;
    EXPECT_EQ(ep.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(ep.status().message().find("hunter2"), std::string::npos) << ep.status().message();
  }
  EXPECT_NE(ParseRedisUrl("redis://u:%zz@h/0").status().message().find("percent-encoding"),
            std::string::npos);
}

TEST(RedisUrlCredentials, RedactionHidesOnlyThePassword) {
  struct Case {
    const char* url;
    const char* redacted;
  } cases[] = {
      {"redis://user:pw@h:1/0", "redis://user:***@h:1/0"},
      {"redis://:pw@h:1/0", "redis://:***@h:1/0"},
      {"redis://u:a/b@c@h/0", "redis://u:***@h/0"},
      {"redis://user@h:1/0", "redis://user@h:1/0"},
      {"redis://h:1/0", "redis://h:1/0"},
      {"memory", "memory"},
      {"rediss://u:pw@h", "rediss://u:***@h"},
      {"redis+unix:///s?db=1&password=x%26y&user=u", "redis+unix:///s?db=1&password=***&user=u"},
      {"redis+unix:///s?password=x", "redis+unix:///s?password=***"},
  };
  for (const Case& c : cases) EXPECT_EQ(RedactStoreUrl(c.url), c.redacted) << c.url;
}

TEST(RedisUrlCredentials, EndpointStringsCarryNoCredentials) {
  EXPECT_EQ(ParseRedisUrl("redis://u:pw@h:1/2")->ToString(), "h:1/2");
  EXPECT_EQ(ParseRedisUrl("redis+unix:///s?password=pw&db=1")->ToString(), "unix:/s?db=1");
}

TEST(RedisUrlCredentials, OpenStoresRedactsAndChecksTheUser) {
  StoreOptions options;
  options.url = "rediss://u:hunter2@h:1/0";
  Result<Stores> tls = OpenStores(options);
  EXPECT_EQ(tls.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tls.status().message().find("hunter2"), std::string::npos) << tls.status().message();

  options.url = "redis://alice@h:1/0";
  Result<Stores> no_password = OpenStores(options);
  EXPECT_EQ(no_password.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_password.status().message().find("needs a password"), std::string::npos);

  options.password = "from-a-file";
  EXPECT_TRUE(OpenStores(options).ok());
}

}  // namespace
}  // namespace attestd
