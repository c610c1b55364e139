#include "store/redis/redis_reply.h"

#include <hiredis/hiredis.h>

namespace attestd {

bool RedisValue::is_nil() const { return r_ == nullptr || r_->type == REDIS_REPLY_NIL; }
bool RedisValue::is_string() const { return r_ && r_->type == REDIS_REPLY_STRING; }
bool RedisValue::is_status() const { return r_ && r_->type == REDIS_REPLY_STATUS; }
bool RedisValue::is_error() const { return r_ && r_->type == REDIS_REPLY_ERROR; }
bool RedisValue::is_integer() const { return r_ && r_->type == REDIS_REPLY_INTEGER; }
bool RedisValue::is_array() const { return r_ && r_->type == REDIS_REPLY_ARRAY; }

std::string_view RedisValue::str() const {
  if (!(is_string() || is_status() || is_error()) || r_->str == nullptr) return {};
  return std::string_view(r_->str, r_->len);
}

long long RedisValue::integer() const { return is_integer() ? r_->integer : 0; }

size_t RedisValue::size() const { return is_array() ? r_->elements : 0; }

RedisValue RedisValue::operator[](size_t i) const {
  if (i >= size()) return RedisValue();
  return RedisValue(r_->element[i]);
}

void RedisReply::Free::operator()(redisReply* r) const { freeReplyObject(r); }

RedisReply::RedisReply(redisReply* reply) : RedisValue(reply), owned_(reply) {}

RedisReply::RedisReply(RedisReply&& other) noexcept
    : RedisValue(other.r_), owned_(std::move(other.owned_)) {
  other.r_ = nullptr;
}

RedisReply& RedisReply::operator=(RedisReply&& other) noexcept {
  if (this != &other) {
    owned_ = std::move(other.owned_);
    r_ = other.r_;
    other.r_ = nullptr;
  }
  return *this;
}

}  // namespace attestd
