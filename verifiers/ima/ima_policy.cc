#include "verifiers/ima/ima_policy.h"

#include <openssl/sha.h>
#include <re2/re2.h>
#include <simdjson.h>

#include <map>

#include "common/base64.h"

namespace attestd::ima {

// Builds a CompiledPolicy; a friend so the policy itself stays immutable.
class PolicyCompiler {
 public:
  explicit PolicyCompiler(std::string id) : p_(new CompiledPolicy()) { p_->id_ = std::move(id); }

  Status Json(simdjson::dom::object root);
  void AddExcludes(const std::vector<std::string_view>& patterns) {
    patterns_.insert(patterns_.end(), patterns.begin(), patterns.end());
  }
  Status Keys(const std::vector<std::string>& extra_keys);
  Status VerificationKeys(std::string_view json);
  DigestIndex& table(DigestTable t) { return p_->tables_[static_cast<int>(t)]; }
  Result<PolicyPtr> Finish();
  // root[field]: names to lists of hex digests, into table `t`.
  Status Table(simdjson::dom::object root, const char* field, DigestTable t);

 private:
  Status Ima(simdjson::dom::object ima);
  Status CompileExcludes();

  std::shared_ptr<CompiledPolicy> p_;
  size_t regex_bytes_ = 0;
  size_t key_count_ = 0;
  std::vector<std::string> patterns_;
};

namespace {

using simdjson::SUCCESS;

std::string Sha256Hex(std::string_view a, std::string_view b = {}, bool join = false) {
  std::string joined;
  if (join) {
    joined.append(a).push_back('\0');
    joined.append(b);
    a = joined;
  }
  DigestBuf d;
  Hasher h;
  h.Digest(*HashAlgoByName("sha256"), a, &d);
  return HexEncode(d.view());
}

Status FieldError(std::string_view field, std::string_view why) {
  return InvalidArgument("runtime policy: " + std::string(field) + ": " + std::string(why));
}

}  // namespace

CompiledPolicy::CompiledPolicy() : log_hash_alg_(HashAlgoByName("sha1")) {}

bool CompiledPolicy::Excluded(std::string_view path) const {
  return excludes_ != nullptr && excludes_->Match(path, nullptr);
}

bool CompiledPolicy::KeyringIgnored(std::string_view keyring) const {
  if (ignore_all_keyrings_) return true;
  for (const std::string& k : ignored_keyrings_) {
    if (k == keyring) return true;
  }
  return false;
}

void DigestIndex::Reserve(size_t name_bytes, size_t names) {
  names_.reserve(names_.size() + name_bytes);
  if (2 * (used_ + names) > slots_.size()) Grow(2 * (used_ + names));
}

void DigestIndex::Grow(size_t want) {
  size_t n = 16;
  while (n < want) n *= 2;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(n, Slot());
  for (const Slot& s : old) {
    if (s.name_offset == kEmpty) continue;
    size_t i = std::hash<std::string_view>{}(
                   std::string_view(names_.data() + s.name_offset, s.name_size)) &
               (n - 1);
    while (slots_[i].name_offset != kEmpty) i = (i + 1) & (n - 1);
    slots_[i] = s;
  }
}

const DigestIndex::Slot* DigestIndex::Lookup1(std::string_view name) const {
  if (slots_.empty()) return nullptr;
  uint64_t h = std::hash<std::string_view>{}(name);
  uint32_t tag = static_cast<uint32_t>(h >> 32);
  size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.name_offset == kEmpty) return nullptr;
    if (s.tag == tag && s.name_size == name.size() &&
        std::memcmp(names_.data() + s.name_offset, name.data(), name.size()) == 0) {
      return &s;
    }
  }
}

Status DigestIndex::Add(std::string_view name, const std::vector<std::string_view>& hex) {
  if (names_.size() + name.size() >= kEmpty || digests_.size() + hex.size() * 65 >= kEmpty) {
    return InvalidArgument("policy tables exceed 4 GiB");
  }
  if (name.size() > UINT16_MAX || hex.size() > UINT16_MAX) {
    return InvalidArgument("'" + std::string(name.substr(0, 200)) +
                           "': name or digest list longer than 65535");
  }
  Slot span;
  span.digest_offset = static_cast<uint32_t>(digests_.size());
  for (std::string_view h : hex) {
    DigestBuf d;
    if (!DecodeHex(h, &d) || d.size < 20) {
      digests_.resize(span.digest_offset);
      return InvalidArgument("'" + std::string(name.substr(0, 200)) + "': digest '" +
                             std::string(h.substr(0, 140)) + "' is not 20 to 64 bytes of hex");
    }
    digests_.push_back(static_cast<char>(d.size));
    digests_.append(d.view());
    ++span.count;
  }
  if (const Slot* s = Lookup1(name)) {
    Slot* w = const_cast<Slot*>(s);
    w->digest_offset = span.digest_offset;
    w->count = span.count;
    return Status::Ok();
  }
  if (2 * (used_ + 1) > slots_.size()) Grow(2 * (used_ + 1));
  uint64_t h = std::hash<std::string_view>{}(name);
  span.tag = static_cast<uint32_t>(h >> 32);
  span.name_offset = static_cast<uint32_t>(names_.size());
  span.name_size = static_cast<uint16_t>(name.size());
  names_.append(name);
  size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  while (slots_[i].name_offset != kEmpty) i = (i + 1) & mask;
  slots_[i] = span;
  ++used_;
  return Status::Ok();
}

Lookup DigestIndex::Find(std::string_view name, std::string_view digest) const {
  const Slot* s = Lookup1(name);
  if (s == nullptr) return Lookup::kNoEntry;
  const char* p = digests_.data() + s->digest_offset;
  for (uint32_t i = 0; i < s->count; ++i) {
    size_t n = static_cast<uint8_t>(*p);
    if (n == digest.size() && std::memcmp(p + 1, digest.data(), n) == 0) return Lookup::kMatch;
    p += 1 + n;
  }
  return Lookup::kNoMatch;
}

std::string DigestIndex::Accepted(std::string_view name, size_t max) const {
  const Slot* s = Lookup1(name);
  if (s == nullptr) return "";
  std::string out;
  const char* p = digests_.data() + s->digest_offset;
  for (uint32_t i = 0; i < s->count && i < max; ++i) {
    size_t n = static_cast<uint8_t>(*p);
    if (!out.empty()) out += ",";
    out += HexEncode(std::string_view(p + 1, n));
    p += 1 + n;
  }
  if (s->count > max) out += ",…";
  return out;
}

size_t DigestIndex::ApproxBytes() const {
  return names_.capacity() + digests_.capacity() + slots_.capacity() * sizeof(Slot);
}

Status PolicyCompiler::Table(simdjson::dom::object root, const char* field, DigestTable t) {
  simdjson::dom::element el;
  if (root.at_key(field).get(el) != SUCCESS || el.is_null()) return Status::Ok();
  simdjson::dom::object obj;
  if (el.get_object().get(obj) != SUCCESS) return FieldError(field, "not an object");
  size_t bytes = 0, count = 0;
  for (auto kv : obj) {
    bytes += kv.key.size();
    ++count;
  }
  DigestIndex& index = p_->tables_[static_cast<int>(t)];
  index.Reserve(bytes, count);
  std::vector<std::string_view> hex;
  for (auto kv : obj) {
    simdjson::dom::array arr;
    if (kv.value.get_array().get(arr) != SUCCESS) {
      return FieldError(field, "'" + std::string(kv.key.substr(0, 200)) + "' is not a list");
    }
    hex.clear();
    for (auto d : arr) {
      std::string_view s;
      if (d.get_string().get(s) != SUCCESS) {
        return FieldError(field, "'" + std::string(kv.key.substr(0, 200)) + "' holds a non-string");
      }
      hex.push_back(s);
    }
    Status st = index.Add(kv.key, hex);
    if (!st.ok()) return FieldError(field, st.message());
  }
  return Status::Ok();
}

Status PolicyCompiler::Ima(simdjson::dom::object ima) {
  simdjson::dom::element el;
  if (ima.at_key("dm_policy").get(el) == SUCCESS && !el.is_null()) {
    return FieldError("ima.dm_policy", "device-mapper policies are not supported");
  }
  if (ima.at_key("log_hash_alg").get(el) == SUCCESS && !el.is_null()) {
    std::string_view alg;
    if (el.get_string().get(alg) != SUCCESS || HashAlgoByName(alg) == nullptr) {
      return FieldError("ima.log_hash_alg", "not one of sha1, sha256, sha384, sha512");
    }
    p_->log_hash_alg_ = HashAlgoByName(alg);
  }
  if (ima.at_key("ignored_keyrings").get(el) == SUCCESS && !el.is_null()) {
    simdjson::dom::array arr;
    if (el.get_array().get(arr) != SUCCESS) return FieldError("ima.ignored_keyrings", "not a list");
    for (auto k : arr) {
      std::string_view s;
      if (k.get_string().get(s) != SUCCESS) {
        return FieldError("ima.ignored_keyrings", "holds a non-string");
      }
      if (s == "*") p_->ignore_all_keyrings_ = true;
      p_->ignored_keyrings_.emplace_back(s);
    }
  }
  return Status::Ok();
}

Status PolicyCompiler::Json(simdjson::dom::object root) {
  simdjson::dom::element el;
  if (root.at_key("meta").get(el) == SUCCESS) {
    simdjson::dom::element v;
    int64_t version = 0;
    if (el.at_key("version").get(v) == SUCCESS &&
        (v.get_int64().get(version) != SUCCESS || version < 0 || version > 1)) {
      return FieldError("meta.version", "only version 1 (or 0) is supported");
    }
  }
  if (root.at_key("ima").get(el) == SUCCESS && !el.is_null()) {
    simdjson::dom::object ima;
    if (el.get_object().get(ima) != SUCCESS) return FieldError("ima", "not an object");
    Status s = Ima(ima);
    if (!s.ok()) return s;
  }
  for (auto [field, table] :
       {std::pair{"digests", DigestTable::kDigests}, std::pair{"keyrings", DigestTable::kKeyrings},
        std::pair{"ima-buf", DigestTable::kImaBuf}}) {
    Status s = Table(root, field, table);
    if (!s.ok()) return s;
  }
  std::vector<std::string_view> patterns;
  if (root.at_key("excludes").get(el) == SUCCESS && !el.is_null()) {
    simdjson::dom::array arr;
    if (el.get_array().get(arr) != SUCCESS) return FieldError("excludes", "not a list");
    for (auto x : arr) {
      std::string_view s;
      if (x.get_string().get(s) != SUCCESS) return FieldError("excludes", "holds a non-string");
      patterns.push_back(s);
    }
  }
  AddExcludes(patterns);
  if (root.at_key("verification-keys").get(el) == SUCCESS && !el.is_null()) {
    std::string_view keys;
    if (el.get_string().get(keys) != SUCCESS) {
      return FieldError("verification-keys", "not a string");
    }
    if (!keys.empty()) return VerificationKeys(keys);
  }
  return Status::Ok();
}

Status PolicyCompiler::CompileExcludes() {
  const std::vector<std::string>& patterns = patterns_;
  if (patterns.empty()) return Status::Ok();
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(64 << 20);
  // Python's re.match: anchored at the start, not at the end.
  auto set = std::make_unique<RE2::Set>(opts, RE2::ANCHOR_START);
  for (size_t i = 0; i < patterns.size(); ++i) {
    std::string error;
    if (set->Add(patterns[i], &error) < 0) {
      return FieldError("excludes[" + std::to_string(i) + "]",
                        "'" + patterns[i].substr(0, 200) + "': " + error);
    }
    RE2 one(patterns[i], opts);
    // RE2 instructions are ~16 bytes; the DFA cache grows on use, up to max_mem.
    regex_bytes_ += static_cast<size_t>(std::max(one.ProgramSize(), 0)) * 16 + patterns[i].size();
  }
  if (!set->Compile()) return FieldError("excludes", "the patterns exceed the automaton's memory");
  p_->excludes_ = std::move(set);
  p_->exclude_count_ = patterns.size();
  return Status::Ok();
}

Status PolicyCompiler::VerificationKeys(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(json.data(), json.size()).get_object().get(obj) != SUCCESS) {
    return FieldError("verification-keys", "not a JSON object");
  }
  simdjson::dom::array pubkeys, keyids;
  if (obj.at_key("pubkeys").get_array().get(pubkeys) != SUCCESS) {
    return FieldError("verification-keys", "no 'pubkeys' list");
  }
  bool have_ids = obj.at_key("keyids").get_array().get(keyids) == SUCCESS;
  size_t i = 0;
  for (auto k : pubkeys) {
    std::string_view b64;
    std::optional<std::string> der;
    if (k.get_string().get(b64) != SUCCESS || !(der = Base64DecodeAny(b64))) {
      return FieldError("verification-keys", "pubkeys[" + std::to_string(i) + "] is not base64");
    }
    Result<KeyWithId> key = LoadPublicKey(*der);
    if (!key.ok()) {
      return FieldError("verification-keys",
                        "pubkeys[" + std::to_string(i) + "]: " + key.status().message());
    }
    int64_t id = 0;
    // A given non-zero key id wins, as in Keylime's ImaKeyring.
    if (have_ids && keyids.at(i).get_int64().get(id) == SUCCESS && id > 0 && id <= 0xffffffffLL) {
      key->keyid = static_cast<uint32_t>(id);
    }
    p_->tenant_keys_.Add(*key);
    ++key_count_;
    ++i;
  }
  return Status::Ok();
}

Status PolicyCompiler::Keys(const std::vector<std::string>& extra_keys) {
  for (size_t i = 0; i < extra_keys.size(); ++i) {
    Result<KeyWithId> key = LoadPublicKey(extra_keys[i]);
    if (!key.ok()) {
      return InvalidArgument("extra key " + std::to_string(i) + ": " + key.status().message());
    }
    p_->tenant_keys_.Add(*key);
    ++key_count_;
  }
  return Status::Ok();
}

Result<PolicyPtr> PolicyCompiler::Finish() {
  Status s = CompileExcludes();
  if (!s.ok()) return s;
  size_t bytes = sizeof(CompiledPolicy) + regex_bytes_ + key_count_ * 1024;
  for (const DigestIndex& t : p_->tables_) bytes += t.ApproxBytes();
  for (const std::string& k : p_->ignored_keyrings_) bytes += sizeof(k) + k.capacity();
  p_->approx_bytes_ = bytes;
  return PolicyPtr(p_);
}

Result<PolicyPtr> CompileRuntimePolicy(std::string_view json,
                                       const std::vector<std::string>& extra_keys) {
  PolicyCompiler c(Sha256Hex(json));
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(json.data(), json.size()).get_object().get(root) != SUCCESS) {
    return InvalidArgument("runtime policy: not a JSON object");
  }
  std::string payload;
  simdjson::dom::parser inner;
  std::string_view b64;
  if (root.at_key("payload").get_string().get(b64) == SUCCESS) {
    std::optional<std::string> p = Base64DecodeAny(b64);
    if (!p || inner.parse(*p).get_object().get(root) != SUCCESS) {
      return FieldError("payload", "not a base64 JSON object");
    }
  }
  Status s = c.Json(root);
  if (s.ok()) s = c.Keys(extra_keys);
  if (!s.ok()) return s;
  return c.Finish();
}

namespace {

struct FlatAllowlist {
  std::map<std::string_view, std::vector<std::string_view>> digests, keyrings;
};

// Keylime's flat format: "<hash> <path>" per line, split at the first run
// of whitespace; lines without both parts are skipped as Keylime does.
FlatAllowlist ParseFlat(std::string_view text) {
  FlatAllowlist out;
  constexpr std::string_view kWs = " \t\r\f\v";
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t b = line.find_first_not_of(kWs);
    if (b == std::string_view::npos) continue;
    line = line.substr(b, line.find_last_not_of(kWs) - b + 1);
    size_t sp = line.find_first_of(kWs);
    if (sp == std::string_view::npos) continue;
    std::string_view hash = line.substr(0, sp);
    std::string_view path = line.substr(line.find_first_not_of(kWs, sp));
    constexpr std::string_view kKeyring = "%keyring:";
    if (path.substr(0, kKeyring.size()) == kKeyring) {
      out.keyrings[path.substr(kKeyring.size())].push_back(hash);
    } else {
      out.digests[path].push_back(hash);
    }
  }
  return out;
}

Status FillTable(const std::map<std::string_view, std::vector<std::string_view>>& m,
                 DigestIndex* index) {
  size_t bytes = 0;
  for (const auto& [name, _] : m) bytes += name.size();
  index->Reserve(bytes, m.size());
  for (const auto& [name, hex] : m) {
    Status s = index->Add(name, hex);
    if (!s.ok()) return InvalidArgument("allowlist: " + s.message());
  }
  return Status::Ok();
}

std::vector<std::string_view> ExcludeLines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string_view::npos || line[b] == '#') continue;
    out.push_back(line.substr(b, line.find_last_not_of(" \t\r") - b + 1));
  }
  return out;
}

}  // namespace

Result<PolicyPtr> CompileAllowlist(std::string_view allowlist, std::string_view excludes,
                                   const std::vector<std::string>& extra_keys) {
  PolicyCompiler c(Sha256Hex(allowlist, excludes, true));
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  Status s;
  if (parser.parse(allowlist.data(), allowlist.size()).get_object().get(root) == SUCCESS) {
    simdjson::dom::object hashes;
    if (root.at_key("hashes").get_object().get(hashes) != SUCCESS) {
      return InvalidArgument("allowlist: a JSON allowlist needs a 'hashes' object");
    }
    // The old JSON allowlist is a runtime policy with "hashes" for "digests".
    s = c.Json(root);
    if (s.ok()) s = c.Table(root, "hashes", DigestTable::kDigests);
  } else {
    FlatAllowlist flat = ParseFlat(allowlist);
    s = FillTable(flat.digests, &c.table(DigestTable::kDigests));
    if (s.ok()) s = FillTable(flat.keyrings, &c.table(DigestTable::kKeyrings));
  }
  c.AddExcludes(ExcludeLines(excludes));
  if (s.ok()) s = c.Keys(extra_keys);
  if (!s.ok()) return s;
  return c.Finish();
}

}  // namespace attestd::ima
