// Secrets come from here only: OpenSSL's CSPRNG (RAND_bytes).
#pragma once

#include <string>

#include "common/status.h"

namespace attestd {

// n bytes from the CSPRNG; kInternal if the generator fails.
Result<std::string> RandomBytes(size_t n);

// n characters drawn uniformly from [A-Za-z0-9] (rejection sampling, so no
// modulo bias).
Result<std::string> RandomAlphanumeric(size_t n);

// A random (version 4) UUID in lower-case canonical form.
Result<std::string> NewUuidV4();

// True for the canonical 8-4-4-4-12 hexadecimal form (either case).
bool IsUuid(std::string_view text);

// Constant-time equality of two byte strings (length is not secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace attestd
