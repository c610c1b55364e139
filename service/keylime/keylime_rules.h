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

// Whether two encodings of a TPM public area hold the same public key:
// each may be a TPM2B_PUBLIC or the bare TPMT_PUBLIC (rust-keylime's push
// agent sends its AK without the 2-byte size prefix the registrar stored).
// False when either does not parse.
bool SameAk(std::string_view a, std::string_view b);

// The key algorithm ("rsa" | "ecc") a Keylime signature scheme needs;
// empty for an unknown scheme.
std::string_view SchemeKeyAlgorithm(std::string_view scheme);

// `kind` is "hash", "encryption" or "signing": a non-empty list of
// Keylime's algorithm names (keylime/common/algorithms.py).
Status ValidateAlgs(std::string_view kind, const std::vector<std::string>& algs);

}  // namespace attestd::keylime
