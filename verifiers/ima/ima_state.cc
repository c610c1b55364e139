// ImaState as JSON, and the AR4SI claim of an appraisal.
#include <simdjson.h>

#include "common/base64.h"
#include "common/json_writer.h"
#include "verifiers/ima/ima_appraisal.h"

namespace attestd::ima {

int Ar4siExecutables(const ImaAppraisal& a) {
  int claim = 2;
  for (const ImaFailure& f : a.failures) {
    const std::string& id = f.event_id;
    if (id == "ima.pcr_mismatch" || id == "ima.parser.entry" || id == "ima.quote_progress" ||
        id == "ima.validation.ima_hash") {
      return 99;
    }
    if (id == "ima.validator.ima-sig.invalid_signature") {
      claim = 96;
    } else if (claim == 2) {
      claim = 33;
    }
  }
  if (claim == 2 && a.failures_dropped > 0) claim = 33;
  return claim;
}

std::string SerializeImaState(const ImaState& s) {
  JsonWriter w(256 + s.learned_keys.size() * 600);
  w.BeginObject();
  w.Key("next_entry").Uint(s.next_entry);
  w.Key("bank").String(s.bank);
  w.Key("pcr10").HexString(s.pcr10);
  w.Key("boot_id").HexString(s.boot_id);
  w.Key("boot_marker");
  if (s.boot_marker) {
    w.Uint(*s.boot_marker);
  } else {
    w.Null();
  }
  w.Key("progress");
  if (s.progress) {
    w.BeginArray().Uint(s.progress->match_line).Uint(s.progress->log_length).EndArray();
  } else {
    w.Null();
  }
  w.Key("learned_keys").BeginArray();
  for (const LearnedKey& k : s.learned_keys) {
    w.BeginObject();
    w.Key("keyring").String(k.keyring);
    w.Key("keyid").Uint(k.keyid);
    w.Key("spki").String(Base64Encode(k.spki_der));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.Take();
}

namespace {

using simdjson::SUCCESS;

Status Bad(const char* field) { return InvalidArgument(std::string("ima state: ") + field); }

bool Hex(simdjson::dom::object o, const char* key, std::string* out) {
  std::string_view v;
  if (o.at_key(key).get_string().get(v) != SUCCESS) return false;
  std::optional<std::string> d = HexDecode(v);
  if (!d) return false;
  *out = std::move(*d);
  return true;
}

}  // namespace

Result<ImaState> ParseImaState(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::object o;
  if (parser.parse(json.data(), json.size()).get_object().get(o) != SUCCESS)
    return Bad("not an object");
  ImaState s;
  std::string_view bank;
  if (o.at_key("next_entry").get_uint64().get(s.next_entry) != SUCCESS) return Bad("next_entry");
  if (o.at_key("bank").get_string().get(bank) != SUCCESS) return Bad("bank");
  s.bank = bank;
  const HashAlgo* alg = HashAlgoByName(bank);
  if (!Hex(o, "pcr10", &s.pcr10) || alg == nullptr || s.pcr10.size() != alg->size) {
    return Bad("pcr10");
  }
  if (!Hex(o, "boot_id", &s.boot_id) || (s.boot_id.size() != 0 && s.boot_id.size() != 32)) {
    return Bad("boot_id");
  }
  simdjson::dom::element e;
  uint64_t marker = 0;
  if (o.at_key("boot_marker").get(e) != SUCCESS) return Bad("boot_marker");
  if (!e.is_null()) {
    if (e.get_uint64().get(marker) != SUCCESS) return Bad("boot_marker");
    s.boot_marker = marker;
  }
  if (o.at_key("progress").get(e) != SUCCESS) return Bad("progress");
  if (!e.is_null()) {
    simdjson::dom::array a;
    ImaState::Progress p;
    if (e.get_array().get(a) != SUCCESS || a.size() != 2 ||
        a.at(0).get_uint64().get(p.match_line) != SUCCESS ||
        a.at(1).get_uint64().get(p.log_length) != SUCCESS || p.match_line > p.log_length) {
      return Bad("progress");
    }
    s.progress = p;
  }
  simdjson::dom::array keys;
  if (o.at_key("learned_keys").get_array().get(keys) != SUCCESS) return Bad("learned_keys");
  for (simdjson::dom::element k : keys) {
    LearnedKey lk;
    std::string_view ring, spki;
    uint64_t id = 0;
    std::optional<std::string> der;
    if (k.at_key("keyring").get_string().get(ring) != SUCCESS ||
        k.at_key("keyid").get_uint64().get(id) != SUCCESS || id > 0xffffffffULL ||
        k.at_key("spki").get_string().get(spki) != SUCCESS || !(der = Base64DecodeStd(spki))) {
      return Bad("learned_keys");
    }
    lk.keyring = ring;
    lk.keyid = static_cast<uint32_t>(id);
    lk.spki_der = std::move(*der);
    s.learned_keys.push_back(std::move(lk));
  }
  return s;
}

}  // namespace attestd::ima
