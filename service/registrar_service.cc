#include "service/registrar_service.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/base64.h"
#include "common/log.h"
#include "common/random.h"
#include "verifiers/tpm/ak.h"
#include "verifiers/tpm/makecredential.h"

namespace attestd {

namespace {

constexpr size_t kChallengeChars = 32;

bool IsPemCertificate(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  bool ok = x != nullptr;
  X509_free(x);
  BIO_free(bio);
  ERR_clear_error();
  return ok;
}

}  // namespace

RegistrarService::RegistrarService(std::shared_ptr<RegistrarStore> store,
                                   std::shared_ptr<AttesterDirectory> directory,
                                   RegistrarServiceOptions options)
    : store_(std::move(store)), directory_(std::move(directory)), options_(std::move(options)) {}

bool RegistrarService::ValidAgentId(std::string_view id) {
  if (id.empty() || id.size() > 255) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string RegistrarService::AuthTag(std::string_view challenge_key, std::string_view agent_id) {
  unsigned char mac[48];
  size_t len = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA384", nullptr, challenge_key.data(),
                 challenge_key.size(), reinterpret_cast<const unsigned char*>(agent_id.data()),
                 agent_id.size(), mac, sizeof mac, &len)) {
    ERR_clear_error();
    return "";
  }
  return HexEncode(std::string_view(reinterpret_cast<char*>(mac), len));
}

Result<std::string> RegistrarService::Register(const Registration& in) {
  if (!ValidAgentId(in.agent_id))
    return InvalidArgument("agent_id must be 1 to 255 of [A-Za-z0-9._-]");

  auto ak = tpm::ParseAk(in.aik_tpm);
  if (!ak.ok()) return InvalidArgument("aik_tpm: " + ak.status().message());
  if (!(*ak)->HasAkAttributes()) {
    return InvalidArgument(
        "aik_tpm is not a restricted signing key (attributes 0x00050072, no decrypt)");
  }

  if (!in.ek_tpm && !in.ekcert)
    return InvalidArgument("ek_tpm or ekcert (the EK public key) is required");
  std::string ek_bytes;
  if (in.ek_tpm) {
    ek_bytes = *in.ek_tpm;
  } else {
    auto derived = tpm::EkTpm2bFromCertificate(*in.ekcert);
    if (!derived.ok()) return InvalidArgument("ekcert: " + derived.status().message());
    ek_bytes = std::move(*derived);
  }
  auto ek = tpm::ParseEk(ek_bytes);
  if (!ek.ok()) return InvalidArgument("ek_tpm: " + ek.status().message());
  if (in.ekcert) {
    auto cert_key = tpm::CertificatePublicKey(*in.ekcert);
    if (!cert_key.ok()) return InvalidArgument("ekcert: " + cert_key.status().message());
    if (!tpm::SamePublicKey(cert_key->get(), (*ek)->pkey.get())) {
      return InvalidArgument("ekcert's public key is not ek_tpm's");
    }
    if (options_.ek_cert_store) {
      if (Status st = options_.ek_cert_store->Verify(*in.ekcert); !st.ok())
        return InvalidArgument(st.message());
    }
  } else if (options_.ek_cert_store) {
    return InvalidArgument(
        "ekcert is required: EK certificates are checked against the TPM cert store");
  }
  if (!in.mtls_cert.empty() && in.mtls_cert != "disabled" && !IsPemCertificate(in.mtls_cert)) {
    return InvalidArgument("mtls_cert is neither a PEM certificate nor \"disabled\"");
  }
  if (in.port < 0 || in.port > 65535) return InvalidArgument("port must be 1 to 65535");

  std::string challenge = fixed_challenge_;
  if (challenge.empty()) {
    auto random = RandomAlphanumeric(kChallengeChars);
    if (!random.ok()) return random.status();
    challenge = std::move(*random);
  }
  auto blob = tpm::MakeCredential(**ek, challenge, (*ak)->name);
  if (!blob.ok()) return blob.status();

  RegistrarAgent agent;
  agent.agent_id = in.agent_id;
  agent.aik_tpm = in.aik_tpm;
  agent.ek_tpm = ek_bytes;
  agent.ekcert = in.ekcert.value_or("");
  agent.mtls_cert = in.mtls_cert;
  agent.ip = in.ip;
  agent.port = in.port;
  agent.challenge_key = Base64Encode(challenge);
  auto stored = store_->Register(agent);
  if (!stored.ok()) {
    if (stored.status().code() == StatusCode::kPermissionDenied) {
      LogWarn("registrar: re-registration with another TPM identity refused",
              {{"agent_id", in.agent_id}});
    }
    return stored.status();
  }
  // A new challenge means the agent must prove its TPM again.
  if (stored->regcount > 1) WithdrawTrust(in.agent_id, in.aik_tpm);
  std::string regcount = std::to_string(stored->regcount);
  LogInfo("registrar: agent registered", {{"agent_id", in.agent_id},
                                          {"ek", (*ek)->description},
                                          {"ak", (*ak)->description},
                                          {"regcount", regcount}});
  return std::move(*blob);
}

Status RegistrarService::Activate(std::string_view agent_id, std::string_view auth_tag) {
  if (!ValidAgentId(agent_id)) return NotFound("unknown agent");
  auto agent = store_->Get(agent_id);
  if (!agent.ok()) return agent.status();
  if (agent->challenge_key.empty()) {
    // Already active: nothing to prove again until the next registration.
    if (agent->active)
      return InvalidArgument("agent is already active; register again to re-activate");
    return InvalidArgument("agent has no pending challenge");
  }
  std::string expected = AuthTag(agent->challenge_key, agent_id);
  if (expected.empty()) return Internal("HMAC failed");
  if (!ConstantTimeEquals(expected, auth_tag)) {
    Status st = store_->DeleteIfChallenge(agent_id, agent->challenge_key);
    if (!st.ok() && st.code() != StatusCode::kNotFound && st.code() != StatusCode::kConflict)
      return st;
    WithdrawTrust(agent_id, agent->aik_tpm);
    LogWarn("registrar: wrong auth_tag; registration deleted", {{"agent_id", agent_id}});
    return InvalidArgument("auth_tag does not match the challenge; the registration is deleted");
  }
  // Trust first, then the state change: the reverse order could leave an
  // active agent whose AK is not trusted if the directory write failed.
  if (Status st = GrantTrust(*agent); !st.ok()) return st;
  if (Status st = store_->Activate(agent_id, agent->challenge_key); !st.ok()) {
    WithdrawTrust(agent_id, agent->aik_tpm);
    if (st.code() == StatusCode::kConflict) {
      return InvalidArgument("the agent registered again meanwhile; activate the new challenge");
    }
    return st;
  }
  LogInfo("registrar: agent activated", {{"agent_id", agent_id}});
  return Status::Ok();
}

Result<std::vector<std::string>> RegistrarService::ListActive() { return store_->ListActive(); }

Result<RegistrarAgent> RegistrarService::GetActive(std::string_view agent_id) {
  if (!ValidAgentId(agent_id)) return NotFound("unknown agent");
  auto agent = store_->Get(agent_id);
  if (!agent.ok()) return agent.status();
  if (!agent->active) return NotFound("agent is not active");
  agent->challenge_key.clear();
  return agent;
}

Status RegistrarService::Delete(std::string_view agent_id) {
  if (!ValidAgentId(agent_id)) return NotFound("unknown agent");
  auto agent = store_->Get(agent_id);
  if (!agent.ok()) return agent.status();
  if (Status st = store_->Delete(agent_id); !st.ok()) return st;
  WithdrawTrust(agent_id, agent->aik_tpm);
  LogInfo("registrar: agent deleted", {{"agent_id", agent_id}});
  return Status::Ok();
}

Status RegistrarService::GrantTrust(const RegistrarAgent& agent) {
  if (!directory_) return Status::Ok();
  auto existing = directory_->Get(agent.agent_id);
  if (existing.ok() && !existing->tpm_policy.empty())
    return Status::Ok();  // verifier enrolment wins
  if (!existing.ok() && existing.status().code() != StatusCode::kNotFound) return existing.status();
  Attester attester;
  attester.ak_tpm = agent.aik_tpm;
  attester.trusted = true;
  return directory_->Put(agent.agent_id, attester);
}

void RegistrarService::WithdrawTrust(std::string_view agent_id, std::string_view aik_tpm) {
  if (!directory_) return;
  auto existing = directory_->Get(agent_id);
  if (!existing.ok() || existing->ak_tpm != aik_tpm || !existing->tpm_policy.empty()) return;
  if (Status st = directory_->Remove(agent_id); !st.ok()) {
    LogWarn("registrar: could not withdraw trust",
            {{"agent_id", agent_id}, {"error", st.message()}});
  }
}

}  // namespace attestd
