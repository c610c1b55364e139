#include "store/stores.h"

#include "store/memory/memory_session_store.h"
#include "store/memory/memory_work_queue.h"

namespace attestd {

Result<Stores> OpenStores(const StoreOptions& options) {
  if (options.url == "memory") {
    return Stores{std::make_shared<MemorySessionStore>(), std::make_shared<MemoryWorkQueue>()};
  }
  return InvalidArgument("unsupported store URL (want memory, redis://host:port/db or "
                         "redis+unix:///path): " + options.url);
}

}  // namespace attestd
