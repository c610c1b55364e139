// Wall-clock time as the APIs show it.
#pragma once

#include <cstdint>
#include <string>

namespace attestd {

// Milliseconds since the Unix epoch, from the system clock.
int64_t NowMillis();

// RFC 3339 UTC with milliseconds: 2030-10-12T07:20:50.520Z.
std::string FormatRfc3339Millis(int64_t epoch_ms);

}  // namespace attestd
