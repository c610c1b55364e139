#include "verifiers/ima/ima_appraisal.h"

#include <openssl/x509.h>

#include <cstring>
#include <map>

#include "common/base64.h"

namespace attestd::ima {
namespace {

constexpr size_t kMaxSig = 9 + 2048;  // header + a 16384-bit RSA signature

bool AllZeroHex(std::string_view hex) {
  for (char c : hex) {
    if (c != '0') return false;
  }
  return true;
}

DigestBuf Fill(size_t size, uint8_t v) {
  DigestBuf d;
  std::memset(d.bytes, v, size);
  d.size = size;
  return d;
}

std::string LineHash(std::string_view line) {
  DigestBuf d;
  Hasher h;
  h.Digest(*HashAlgoByName("sha256"), line, &d);
  return std::string(d.view());
}

// One appraisal run; holds the scratch buffers reused across entries.
class Appraiser {
 public:
  Appraiser(const CompiledPolicy& policy, const AppraiseInput& in, const AppraiseOptions& opt,
            const HashAlgo& bank)
      : policy_(policy), in_(in), opt_(opt), bank_(bank) {
    scratch_.reserve(4096);
  }

  Result<ImaAppraisal> Run(const ImaState* previous);

 private:
  // Where appraisal starts: the state's coverage, or zero after a reboot.
  Status Resume(const ImaState* previous, LogReader* reader, uint64_t* index);
  bool PrefixMatches(const ImaState& prev);
  void LoadLearnedKeys(const ImaState& prev);
  void AppraiseEntry(const LogEntry& e, std::string_view template_data, const DigestBuf& bank_hash,
                     uint64_t index, uint64_t line);
  bool ValidateNg(const LogEntry& e, DigestTable table, std::string* id, std::string* reason);
  void ValidateSig(const LogEntry& e, uint64_t index, uint64_t line);
  void ValidateBuf(const LogEntry& e, uint64_t index, uint64_t line);
  Status AppraiseFrom(LogReader* reader, uint64_t start);
  void Conclude();
  void CheckProgress(const ImaState* prev, uint64_t start, uint64_t match_line,
                     uint64_t log_length);
  void Fail(std::string id, const LogEntry* e, uint64_t index, uint64_t line, std::string reason);

  const CompiledPolicy& policy_;
  const AppraiseInput& in_;
  const AppraiseOptions& opt_;
  const HashAlgo& bank_;
  Hasher hasher_;
  std::string scratch_;
  std::string buf_;
  ImaAppraisal out_;
  bool entry_failed_ = false;
  std::optional<uint64_t> matched_;  // entries [0, matched_) replay to the quote
  uint64_t end_ = 0;                 // one past the last entry of the list
  std::map<std::string, Keyring, std::less<>> learned_;
  std::vector<const Keyring*> rings_;
};

void Appraiser::Fail(std::string id, const LogEntry* e, uint64_t index, uint64_t line,
                     std::string reason) {
  entry_failed_ = true;
  if (out_.failures.size() >= opt_.max_failures) {
    ++out_.failures_dropped;
    return;
  }
  out_.failures.push_back(
      {std::move(id), e ? std::string(e->name) : std::string(), index, line, std::move(reason)});
}

// Keylime's _validate_ima_ng: excluded paths pass; otherwise the name must
// be in `table` with this digest. On failure *id and *reason say why.
bool Appraiser::ValidateNg(const LogEntry& e, DigestTable table, std::string* id,
                           std::string* reason) {
  // A listed digest passes whether or not the path is excluded, so the
  // table goes first and the automaton runs only for entries it refuses.
  const DigestIndex& t = policy_.table(table);
  Lookup l = t.Find(e.name, e.digest.view());
  if (l == Lookup::kMatch) return true;
  if (policy_.Excluded(e.name)) {
    ++out_.summary.excluded;
    return true;
  }
  if (table == DigestTable::kDigests && e.name == "boot_aggregate") {
    for (const std::string& b : in_.boot_aggregates) {
      if (b == e.digest.view()) return true;
    }
  }
  if (l == Lookup::kNoEntry) {
    *id = "ima.validation.ima-ng.not_in_allowlist";
    *reason = "File not found in allowlist: " + std::string(e.name);
  } else {
    *id = "ima.validation.ima-ng.runtime_policy_hash";
    *reason = "Hash not found in runtime policy: got " + HexEncode(e.digest.view()) +
              ", expected one of " + t.Accepted(e.name, 4);
  }
  return false;
}

// Keylime's _validate_ima_sig: an excluded path or a signature a known key
// verifies passes; otherwise the digest must be in the policy. When that
// fails too for a signed entry, the failure is the signature's.
void Appraiser::ValidateSig(const LogEntry& e, uint64_t index, uint64_t line) {
  uint8_t sig[kMaxSig];
  size_t n = 0;
  bool has_sig = !e.sig_hex.empty() && DecodeHex(e.sig_hex, sig, sizeof sig, &n) && n >= 9 &&
                 9 + (static_cast<size_t>(sig[7]) << 8 | sig[8]) == n;
  SigCheck check = SigCheck::kMalformed;
  uint32_t keyid = 0;
  if (has_sig) {
    if (policy_.Excluded(e.name)) {
      ++out_.summary.excluded;
      return;
    }
    check = VerifyImaSignature(std::string_view(reinterpret_cast<char*>(sig), n), e.digest.view(),
                               e.digest_alg, rings_, &keyid);
    if (check == SigCheck::kOk) {
      ++out_.summary.signatures_verified;
      return;
    }
  }
  std::string id, reason;
  if (ValidateNg(e, DigestTable::kDigests, &id, &reason)) return;
  if (has_sig) {
    char kid[16];
    std::snprintf(kid, sizeof kid, "0x%08x", keyid);
    Fail("ima.validator.ima-sig.invalid_signature", &e, index, line,
         "signature for file " + std::string(e.name) + " could not be validated (" +
             SigCheckName(check) + ", key id " + kid + ") and " + reason);
    return;
  }
  Fail(std::move(id), &e, index, line, std::move(reason));
}

// Keylime's _validate_ima_buf: a buffer holding a key is checked against
// `keyrings` (unless its keyring is ignored) and, accepted, joins that
// keyring; another buffer is checked against `ima-buf`.
void Appraiser::ValidateBuf(const LogEntry& e, uint64_t index, uint64_t line) {
  buf_.resize(e.buf_hex.size() / 2);
  size_t n = 0;
  DecodeHex(e.buf_hex, reinterpret_cast<uint8_t*>(buf_.data()), buf_.size(), &n);
  Result<KeyWithId> key = LoadPublicKey(buf_);
  std::string id, reason;
  if (!key.ok() && key.status().code() != StatusCode::kNotFound) {
    Fail("ima.invalid_key", &e, index, line,
         "key from " + std::string(e.name) + " is not supported: " + key.status().message());
    return;
  }
  if (!key.ok()) {
    if (!ValidateNg(e, DigestTable::kImaBuf, &id, &reason)) {
      Fail(std::move(id), &e, index, line, std::move(reason));
    }
    return;
  }
  if (policy_.KeyringIgnored(e.name)) return;
  if (!ValidateNg(e, DigestTable::kKeyrings, &id, &reason)) {
    Fail(std::move(id), &e, index, line, std::move(reason));
    return;
  }
  auto it = learned_.find(e.name);
  if (it == learned_.end()) it = learned_.emplace(std::string(e.name), Keyring()).first;
  it->second.Add(*key);
  rings_.clear();
  rings_.push_back(&policy_.tenant_keys());
  for (const auto& [name, ring] : learned_) rings_.push_back(&ring);
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key->key.get(), &der);
  if (len > 0) {
    out_.state.learned_keys.push_back(
        {std::string(e.name), key->keyid, std::string(reinterpret_cast<char*>(der), len)});
    OPENSSL_free(der);
  }
  ++out_.summary.keys_learned;
}

void Appraiser::AppraiseEntry(const LogEntry& e, std::string_view data, const DigestBuf& bank_hash,
                              uint64_t index, uint64_t line) {
  if (e.pcr != "10") {
    Fail("ima.validation.ima_pcr", &e, index, line,
         "IMA PCR is not the configured one: expected 10, got " + std::string(e.pcr));
  }
  if (AllZeroHex(e.template_hash_hex)) {
    ++out_.summary.violations;
    if (!opt_.ignore_tomtou_errors) {
      Fail("ima.validation.tomtou", &e, index, line,
           "violation entry: hash validation was skipped");
    }
    return;
  }
  DigestBuf logged, computed;
  // The bank's hash is the log's when both use one algorithm (no second pass).
  bool same = &policy_.log_hash_alg() == &bank_;
  if (same) computed = bank_hash;
  if (!DecodeHex(e.template_hash_hex, &logged) ||
      (!same && !hasher_.Digest(policy_.log_hash_alg(), data, &computed)) ||
      !(logged == computed)) {
    Fail("ima.validation.ima_hash", &e, index, line,
         std::string("IMA template hash does not match the calculated ") +
             policy_.log_hash_alg().name + " hash " + HexEncode(computed.view()));
    return;
  }
  switch (e.tmpl) {
    case Template::kIma:
    case Template::kImaNg:
    case Template::kImaNgV2:
    case Template::kEvmSig: {  // the EVM portable signature is not checked
      std::string id, reason;
      if (!ValidateNg(e, DigestTable::kDigests, &id, &reason)) {
        Fail(std::move(id), &e, index, line, std::move(reason));
      }
      break;
    }
    case Template::kImaSig:
    case Template::kImaSigV2:
    case Template::kImaModsig:
      ValidateSig(e, index, line);
      break;
    case Template::kImaBuf:
      ValidateBuf(e, index, line);
      break;
  }
}

// Keylime's check_quote_progress: a quote that lagged `lag` entries behind
// the log last time must now match at least `lag` entries further on,
// unless it caught up with the whole log.
void Appraiser::CheckProgress(const ImaState* prev, uint64_t start, uint64_t match_line,
                              uint64_t log_length) {
  out_.state.progress = ImaState::Progress{match_line, log_length};
  if (prev == nullptr || out_.summary.reboot_detected || !prev->progress ||
      match_line == log_length) {
    return;
  }
  uint64_t prev_lag = prev->progress->log_length - prev->progress->match_line;
  if (prev_lag > 0 && match_line < prev_lag) {
    Fail("ima.quote_progress", nullptr, start + match_line, 0,
         "PCR quote did not make progress to catch up with the log: it lagged " +
             std::to_string(prev_lag) + " entries and now matches after " +
             std::to_string(match_line));
  }
}

// Replays the first prev.next_entry entries of a full log: the same prefix
// gives the same PCR value, anything else means the list started again.
bool Appraiser::PrefixMatches(const ImaState& prev) {
  LogReader reader(in_.log);
  std::string_view line;
  uint64_t line_no = 0;
  DigestBuf pcr = Fill(bank_.size, 0);
  LogEntry e;
  for (uint64_t i = 0; i < prev.next_entry; ++i) {
    DigestBuf th;
    if (!reader.Next(&line, &line_no) || !ParseLogEntry(line, &e).ok() ||
        !BankTemplateHash(e, bank_, &hasher_, &scratch_, &th) || !hasher_.Extend(bank_, &pcr, th)) {
      return false;
    }
  }
  return pcr.view() == prev.pcr10;
}

void Appraiser::LoadLearnedKeys(const ImaState& prev) {
  for (const LearnedKey& k : prev.learned_keys) {
    Result<KeyWithId> key = LoadPublicKey(k.spki_der);
    if (!key.ok()) continue;
    key->keyid = k.keyid;
    learned_[k.keyring].Add(*key);
    out_.state.learned_keys.push_back(k);
  }
}

Status Appraiser::Resume(const ImaState* prev, LogReader* reader, uint64_t* index) {
  std::string_view first;
  uint64_t line_no = 0;
  std::string boot_id;
  if (in_.first_entry == 0 && LogReader(in_.log).Next(&first, &line_no)) boot_id = LineHash(first);
  bool usable = prev != nullptr && prev->bank == bank_.name && prev->pcr10.size() == bank_.size;
  bool reset =
      usable && in_.boot_marker && prev->boot_marker && *in_.boot_marker != *prev->boot_marker;
  if (usable && !reset && in_.first_entry == 0 && prev->next_entry > 0) {
    reset = (!prev->boot_id.empty() && prev->boot_id != boot_id) || !PrefixMatches(*prev);
  }
  out_.summary.reboot_detected = reset;
  if (!usable || reset) {
    if (in_.first_entry != 0 && !reset) {
      return InvalidArgument("a log from entry " + std::to_string(in_.first_entry) +
                             " needs the state of a previous appraisal");
    }
    out_.state.boot_id = boot_id;
    *index = in_.first_entry;
    return Status::Ok();
  }
  if (in_.first_entry > prev->next_entry) {
    return InvalidArgument("the log starts at entry " + std::to_string(in_.first_entry) +
                           " but only " + std::to_string(prev->next_entry) + " were appraised");
  }
  out_.state.boot_id = in_.first_entry == 0 ? boot_id : prev->boot_id;
  out_.state.pcr10 = prev->pcr10;
  LoadLearnedKeys(*prev);
  // Skip what the previous quote covered.
  std::string_view line;
  for (*index = in_.first_entry; *index < prev->next_entry; ++*index) {
    if (!reader->Next(&line, &line_no)) break;
    ++out_.summary.entries_skipped;
  }
  return Status::Ok();
}

Result<ImaAppraisal> Appraiser::Run(const ImaState* previous) {
  if (in_.pcr10.size() != bank_.size) {
    return InvalidArgument("PCR 10 value has " + std::to_string(in_.pcr10.size()) + " bytes; the " +
                           bank_.name + " bank has " + std::to_string(bank_.size));
  }
  out_.state.bank = bank_.name;
  out_.state.boot_marker = in_.boot_marker;
  out_.state.pcr10.assign(bank_.size, '\0');
  LogReader reader(in_.log);
  uint64_t start = 0;
  Status s = Resume(previous, &reader, &start);
  if (!s.ok()) return s;
  if (out_.summary.reboot_detected && in_.first_entry != 0) {
    // A partial list continues a boot that is over: nothing to replay.
    Fail("ima.pcr_mismatch", nullptr, start, 0,
         "the machine rebooted since the last attestation: the whole list is needed");
  } else {
    Status a = AppraiseFrom(&reader, start);
    if (!a.ok()) return a;
    if (matched_) CheckProgress(previous, start, *matched_ - start, end_ - start);
  }
  Conclude();
  return std::move(out_);
}

// Replays and appraises the rest of the list from entry `start`, noting
// the first prefix whose PCR 10 is the quoted one.
Status Appraiser::AppraiseFrom(LogReader* reader, uint64_t start) {
  rings_.push_back(&policy_.tenant_keys());
  for (const auto& [name, ring] : learned_) rings_.push_back(&ring);
  DigestBuf pcr;
  std::memcpy(pcr.bytes, out_.state.pcr10.data(), bank_.size);
  pcr.size = bank_.size;
  if (pcr.view() == in_.pcr10) matched_ = start;
  std::string_view line;
  uint64_t line_no = 0;
  LogEntry e;
  uint64_t index = start;
  for (; reader->Next(&line, &line_no); ++index) {
    ++out_.summary.entries_appraised;
    entry_failed_ = false;
    Status ps = ParseLogEntry(line, &e);
    if (!ps.ok()) {
      Fail("ima.parser.entry", nullptr, index, line_no,
           "line " + std::to_string(line_no) +
               " was not parsable into a valid IMA entry: " + ps.message());
      continue;
    }
    DigestBuf th;
    if (!BankTemplateHash(e, bank_, &hasher_, &scratch_, &th) || !hasher_.Extend(bank_, &pcr, th)) {
      return Internal("hashing failed");
    }
    AppraiseEntry(e, scratch_, th, index, line_no);
    if (!entry_failed_) ++out_.summary.entries_passed;
    if (e.tmpl != Template::kImaBuf && e.name != "boot_aggregate") ++out_.summary.files_measured;
    if (!matched_ && pcr.view() == in_.pcr10) {
      matched_ = index + 1;
      out_.state.pcr10.assign(pcr.view());
    }
  }
  end_ = index;
  if (!matched_) {
    Fail("ima.pcr_mismatch", nullptr, start, 0,
         "IMA measurement list does not match TPM PCR " + HexEncode(in_.pcr10) +
             ": no prefix of entries " + std::to_string(start) + ".." + std::to_string(index) +
             " replays to it (the whole list gives " + HexEncode(pcr.view()) + ")");
  }
  return Status::Ok();
}

void Appraiser::Conclude() {
  out_.summary.quoted_entries = matched_;
  if (out_.ok()) {
    out_.state.next_entry = *matched_;
    return;
  }
  // As Keylime: any failure makes the next attestation start over.
  std::optional<uint64_t> marker = out_.state.boot_marker;
  out_.state = ImaState();
  out_.state.bank = bank_.name;
  out_.state.boot_marker = marker;
  out_.state.pcr10.assign(bank_.size, '\0');
}

}  // namespace

bool BankTemplateHash(const LogEntry& e, const HashAlgo& bank, Hasher* hasher, std::string* scratch,
                      DigestBuf* out) {
  EncodeTemplateData(e, scratch);
  if (AllZeroHex(e.template_hash_hex)) {
    *out = Fill(bank.size, 0xff);
    return true;
  }
  return hasher->Digest(bank, *scratch, out);
}

Result<std::string> ReplayPcr10(std::string_view log, std::string_view bank_name) {
  const HashAlgo* bank = HashAlgoByName(bank_name);
  if (bank == nullptr) return InvalidArgument("unknown bank " + std::string(bank_name));
  Hasher hasher;
  std::string scratch;
  DigestBuf pcr = Fill(bank->size, 0);
  LogReader reader(log);
  std::string_view line;
  uint64_t line_no = 0;
  LogEntry e;
  while (reader.Next(&line, &line_no)) {
    Status s = ParseLogEntry(line, &e);
    if (!s.ok()) return InvalidArgument("line " + std::to_string(line_no) + ": " + s.message());
    DigestBuf th;
    if (!BankTemplateHash(e, *bank, &hasher, &scratch, &th) || !hasher.Extend(*bank, &pcr, th)) {
      return Internal("hashing failed");
    }
  }
  return std::string(pcr.view());
}

Result<ImaAppraisal> AppraiseImaLog(const CompiledPolicy& policy, const ImaState* previous,
                                    const AppraiseInput& in, const AppraiseOptions& options) {
  const HashAlgo* bank = HashAlgoByName(in.bank);
  if (bank == nullptr) return InvalidArgument("unknown PCR bank '" + std::string(in.bank) + "'");
  Appraiser a(policy, in, options, *bank);
  return a.Run(previous);
}

}  // namespace attestd::ima
