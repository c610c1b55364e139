#include "verifiers/tpm/evidence.h"

#include <simdjson.h>

#include <cstdio>

#include "common/base64.h"
#include "common/length_prefixed.h"

namespace attestd::tpm {

namespace {

constexpr size_t kMaxAgentIdChars = 255;

Result<std::string> DecodePart(std::string_view b64, const char* what) {
  if (b64.size() > kMaxQuotePartChars) return InvalidArgument(std::string(what) + " too large");
  auto bytes = Base64DecodeStd(b64);
  if (!bytes) return InvalidArgument(std::string(what) + " is not standard base64");
  if (bytes->empty()) return InvalidArgument(std::string(what) + " is empty");
  return std::move(*bytes);
}

bool ValidAgentId(std::string_view id) {
  if (id.empty() || id.size() > kMaxAgentIdChars) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7f) return false;  // printable ASCII, no spaces
  }
  return true;
}

}  // namespace

Result<QuoteParts> ParseKeylimeQuote(std::string_view quote) {
  if (quote.size() > 3 * kMaxQuotePartChars + 3) return InvalidArgument("quote too large");
  if (quote.empty() || quote[0] != 'r') return InvalidArgument("quote does not start with 'r'");
  quote.remove_prefix(1);
  size_t c1 = quote.find(':');
  if (c1 == std::string_view::npos) return InvalidArgument("quote has fewer than 3 parts");
  size_t c2 = quote.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return InvalidArgument("quote has fewer than 3 parts");
  if (quote.find(':', c2 + 1) != std::string_view::npos) {
    return InvalidArgument("quote has more than 3 parts");
  }
  QuoteParts parts;
  auto a = DecodePart(quote.substr(0, c1), "quote message");
  if (!a.ok()) return a.status();
  auto s = DecodePart(quote.substr(c1 + 1, c2 - c1 - 1), "quote signature");
  if (!s.ok()) return s.status();
  auto p = DecodePart(quote.substr(c2 + 1), "quote pcrblob");
  if (!p.ok()) return p.status();
  parts.attest = std::move(*a);
  parts.signature = std::move(*s);
  parts.pcrblob = std::move(*p);
  return parts;
}

Result<QuoteEvidence> QuoteEvidenceFromKeylime(std::string agent_id, std::string_view quote,
                                               std::string_view hash_alg) {
  auto parts = ParseKeylimeQuote(quote);
  if (!parts.ok()) return parts.status();
  QuoteEvidence ev;
  ev.agent_id = std::move(agent_id);
  ev.attest = std::move(parts->attest);
  ev.signature = std::move(parts->signature);
  ev.pcrblob = std::move(parts->pcrblob);
  if (!hash_alg.empty()) ev.hash_alg = std::string(hash_alg);
  return ev;
}

Result<TpmEvidence> ParseQuoteJsonEvidence(std::string_view json) {
  if (json.size() > kMaxJsonEvidenceBytes) return InvalidArgument("evidence too large");
  // Small documents (the common case) reuse one parser per thread, which
  // keeps its buffers; a large one gets its own parser, freed on return, so
  // no thread holds on to megabytes.
  constexpr size_t kReuseBelow = 256 * 1024;
  thread_local simdjson::dom::parser shared_parser;
  std::optional<simdjson::dom::parser> own_parser;
  simdjson::dom::parser* parser = &shared_parser;
  if (json.size() >= kReuseBelow) parser = &own_parser.emplace();
  simdjson::dom::element doc;
  if (parser->parse(json.data(), json.size(), true).get(doc) != simdjson::SUCCESS) {
    return InvalidArgument("evidence is not valid JSON");
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidArgument("evidence is not a JSON object");
  }

  enum Field { kAgent, kQuote, kMessage, kSignature, kPcrs, kHash, kIma, kMb, kCount };
  static constexpr const char* kNames[kCount] = {
      "agent_id", "quote", "message", "signature", "pcrs", "hash_alg", "ima_measurement_list",
      "mb_log"};
  std::optional<std::string_view> v[kCount];
  for (simdjson::dom::key_value_pair field : obj) {
    int which = -1;
    for (int i = 0; i < kCount; ++i) {
      if (field.key == kNames[i]) which = i;
    }
    if (which < 0) continue;  // unknown members are ignored
    if (v[which]) return InvalidArgument(std::string(kNames[which]) + " given twice");
    std::string_view s;
    if (field.value.get_string().get(s) != simdjson::SUCCESS) {
      return InvalidArgument(std::string(kNames[which]) + " is not a string");
    }
    v[which] = s;
  }

  TpmEvidence ev;
  ev.form = EvidenceForm::kQuoteJson;
  if (!v[kAgent]) return InvalidArgument("agent_id missing");
  if (!ValidAgentId(*v[kAgent])) return InvalidArgument("agent_id is not a valid identifier");
  ev.agent_id = std::string(*v[kAgent]);

  bool any_split = v[kMessage] || v[kSignature] || v[kPcrs];
  if (v[kQuote]) {
    if (any_split) return InvalidArgument("both quote and message/signature/pcrs given");
    auto parts = ParseKeylimeQuote(*v[kQuote]);
    if (!parts.ok()) return parts.status();
    ev.attest = std::move(parts->attest);
    ev.signature = std::move(parts->signature);
    ev.pcrblob = std::move(parts->pcrblob);
  } else {
    if (!v[kMessage] || !v[kSignature] || !v[kPcrs]) {
      return InvalidArgument("quote, or all of message, signature and pcrs, required");
    }
    auto a = DecodePart(*v[kMessage], "message");
    if (!a.ok()) return a.status();
    auto s = DecodePart(*v[kSignature], "signature");
    if (!s.ok()) return s.status();
    auto p = DecodePart(*v[kPcrs], "pcrs");
    if (!p.ok()) return p.status();
    ev.attest = std::move(*a);
    ev.signature = std::move(*s);
    ev.pcrblob = std::move(*p);
  }
  if (v[kHash]) ev.hash_alg = std::string(*v[kHash]);
  ev.has_ima_measurement_list = v[kIma].has_value();
  ev.has_mb_log = v[kMb].has_value();
  return ev;
}

Result<TpmEvidence> ParseEnactTrustEvidence(std::string_view b) {
  constexpr size_t kHeader = 16 + 2;
  if (b.size() < kHeader) return InvalidArgument("evidence shorter than its header");
  size_t size =
      (static_cast<size_t>(static_cast<uint8_t>(b[16])) << 8) | static_cast<uint8_t>(b[17]);
  if (size == 0 || b.size() - kHeader <= size) {
    return InvalidArgument("TPMS_ATTEST size exceeds the evidence");
  }
  TpmEvidence ev;
  ev.form = EvidenceForm::kEnactTrust;
  char uuid[37];
  const auto* u = reinterpret_cast<const unsigned char*>(b.data());
  std::snprintf(uuid, sizeof uuid,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                u[15]);
  ev.agent_id = uuid;
  ev.attest = std::string(b.substr(kHeader, size));
  ev.signature = std::string(b.substr(kHeader + size));
  return ev;
}

namespace {

constexpr char kPartsMagic[] = "AQP1";
constexpr int kPartsFields = 7;

}  // namespace

std::string EncodeQuoteParts(const QuotePartsEvidence& p) {
  std::string out(kPartsMagic);
  out.reserve(64 + p.agent_id.size() + p.keylime_quote.size() + p.attest.size() +
              p.signature.size() + p.pcrblob.size());
  for (std::string_view f :
       {std::string_view(p.agent_id), std::string_view(p.keylime_quote), std::string_view(p.attest),
        std::string_view(p.signature), std::string_view(p.pcrblob)}) {
    PutLengthPrefixed(out, f);
  }
  PutLengthPrefixed(out, p.hash_alg ? "1" : "0");
  PutLengthPrefixed(out, p.hash_alg.value_or(""));
  return out;
}

Result<TpmEvidence> ParseQuotePartsEvidence(std::string_view bytes) {
  if (bytes.substr(0, 4) != kPartsMagic) return InvalidArgument("not quote parts");
  bytes.remove_prefix(4);
  std::string_view f[kPartsFields];
  for (std::string_view& field : f) {
    if (!TakeLengthPrefixed(bytes, &field)) return InvalidArgument("truncated quote parts");
  }
  if (!bytes.empty()) return InvalidArgument("trailing bytes after the quote parts");
  TpmEvidence ev;
  ev.agent_id = std::string(f[0]);
  if (!f[1].empty()) {
    auto parts = ParseKeylimeQuote(f[1]);
    if (!parts.ok()) return parts.status();
    ev.attest = std::move(parts->attest);
    ev.signature = std::move(parts->signature);
    ev.pcrblob = std::move(parts->pcrblob);
  } else {
    ev.attest = std::string(f[2]);
    ev.signature = std::string(f[3]);
    ev.pcrblob = std::string(f[4]);
  }
  if (f[5] == "1") ev.hash_alg = std::string(f[6]);
  return ev;
}

Result<TpmEvidence> ParseTpmEvidence(std::string_view media_type, std::string_view bytes) {
  if (media_type == kQuotePartsType) return ParseQuotePartsEvidence(bytes);
  if (media_type == kEnactTrustType) return ParseEnactTrustEvidence(bytes);
  if (media_type == kTpmQuoteJsonType) return ParseQuoteJsonEvidence(bytes);
  return InvalidArgument("not a TPM evidence media type");
}

}  // namespace attestd::tpm
