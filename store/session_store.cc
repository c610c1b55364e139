#include "store/session_store.h"

namespace attestd {

namespace {
constexpr char kSessionCapMessage[] = "too many live sessions; retry later";
}  // namespace

Status SessionCapReached() { return Unavailable(kSessionCapMessage); }

bool IsSessionCapReached(const Status& status) {
  return status.code() == StatusCode::kUnavailable && status.message() == kSessionCapMessage;
}

}  // namespace attestd
