// RedisReply: an owned hiredis reply; RedisValue: a read-only view of one
// node of it.
//
// A RedisValue is valid only while the RedisReply it came from lives. Both
// are cheap to pass around; RedisReply frees the whole tree exactly once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

struct redisReply;

namespace attestd {

class RedisValue {
 public:
  // A view of `reply`; nullptr behaves as nil.
  explicit RedisValue(const redisReply* reply = nullptr) : r_(reply) {}

  bool is_nil() const;
  bool is_string() const;  // bulk string (binary-safe)
  bool is_status() const;  // simple string such as OK or PONG
  bool is_error() const;   // only inside arrays: RedisPool turns a top-level error into a Status
  bool is_integer() const;
  bool is_array() const;

  // The bytes of a string, status or error; empty for other types.
  std::string_view str() const;
  std::string to_string() const { return std::string(str()); }
  // The value of an integer; 0 for other types.
  long long integer() const;
  // The number of elements of an array; 0 for other types.
  size_t size() const;
  // Element i of an array; nil when out of range or not an array.
  RedisValue operator[](size_t i) const;

 protected:
  const redisReply* r_;
};

class RedisReply : public RedisValue {
 public:
  RedisReply() = default;
  // Takes ownership of a reply returned by hiredis.
  explicit RedisReply(redisReply* reply);
  RedisReply(RedisReply&& other) noexcept;
  RedisReply& operator=(RedisReply&& other) noexcept;
  RedisReply(const RedisReply&) = delete;
  RedisReply& operator=(const RedisReply&) = delete;
  ~RedisReply() = default;

 private:
  struct Free {
    void operator()(redisReply* r) const;
  };
  std::unique_ptr<redisReply, Free> owned_;
};

}  // namespace attestd
