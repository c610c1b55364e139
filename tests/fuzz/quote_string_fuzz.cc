// libFuzzer target: the Keylime quote string "r<b64>:<b64>:<b64>", then the
// TPM structures inside it, then the whole appraisal of it as JSON evidence.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/json_writer.h"
#include "tests/fuzz/fuzz_common.h"
#include "verifiers/tpm/evidence.h"
#include "verifiers/tpm/pcrblob.h"
#include "verifiers/tpm/tpm_structures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  auto parts = attestd::tpm::ParseKeylimeQuote(in);
  if (parts.ok()) {
    (void)attestd::tpm::ParseAttest(parts->attest);
    (void)attestd::tpm::ParseSignature(parts->signature);
    (void)attestd::tpm::ParsePcrBlob(parts->pcrblob);
  }
  attestd::JsonWriter w;
  w.BeginObject().Key("agent_id").String(attestd::fuzz::kAgent).Key("quote").String(in);
  w.Key("hash_alg").String("sha256").EndObject();
  attestd::fuzz::AppraiseAndCheck(w.Take(), attestd::tpm::kTpmQuoteJsonType);
  return 0;
}
