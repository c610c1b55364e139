// libFuzzer target: a pull agent's answers as attestd's verifier reads them
// (GET /version and GET /v{api}/quotes/integrity), then the quote string
// inside a well-formed answer.
#include <cstddef>
#include <cstdint>
#include <string>

#include "api/keylime/agent_client.h"
#include "verifiers/tpm/evidence.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  (void)attestd::api::keylime::ParseVersionAnswer(in);
  auto quote = attestd::api::keylime::ParseQuoteAnswer(in);
  if (quote.ok()) (void)attestd::tpm::ParseKeylimeQuote(quote->quote);
  return 0;
}
