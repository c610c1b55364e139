// Keylime's input rules shared by the verifier's services: names, AKs and
// algorithm lists, as Keylime's verifier accepts them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace attestd::keylime {

// Agent ids and policy names: 1 to 255 of [A-Za-z0-9._-].
bool ValidName(std::string_view name);

// An AK (TPM2B_PUBLIC bytes) that parses and is a restricted signing key;
// kInvalidArgument naming `field` otherwise.
Status ValidateAk(std::string_view ak_tpm, const std::string& field);

// `kind` is "hash", "encryption" or "signing": a non-empty list of
// Keylime's algorithm names (keylime/common/algorithms.py).
Status ValidateAlgs(std::string_view kind, const std::vector<std::string>& algs);

}  // namespace attestd::keylime
