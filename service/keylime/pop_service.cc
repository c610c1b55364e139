#include "service/keylime/pop_service.h"

#include "common/base64.h"
#include "common/log.h"
#include "common/random.h"
#include "common/time_util.h"
#include "service/keylime/keylime_rules.h"
#include "verifiers/tpm/certify.h"
#include "verifiers/tpm/tpm_structures.h"

namespace attestd {

namespace {

constexpr size_t kPopChallengeBytes = 16;
constexpr size_t kTokenBytes = 32;

Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }

// Tokens are stored as their SHA-256 only: a store dump grants nothing.
std::string TokenHash(std::string_view token) {
  return HexEncode(tpm::Digest(*tpm::HashAlgByName("sha256"), token));
}

}  // namespace

PopService::PopService(std::shared_ptr<AgentStore> agents, PopOptions options)
    : agents_(std::move(agents)), options_(options) {}

Result<VerifierAgent> PopService::Get(std::string_view agent_id) {
  if (!keylime::ValidName(agent_id)) return NotFound("unknown agent");
  return agents_->Get(agent_id);
}

Result<PopChallenge> PopService::Begin(std::string_view agent_id) {
  if (!keylime::ValidName(agent_id)) {
    return InvalidArgument("agent_id must be 1 to 255 of [A-Za-z0-9._-]");
  }
  auto agent = Get(agent_id);
  if (!agent.ok() && agent.status().code() != StatusCode::kNotFound) return agent.status();
  if (agent.ok() && !agent->push_model)
    return Status(StatusCode::kPermissionDenied, "the agent is not enrolled in push mode");
  auto challenge = RandomBytes(kPopChallengeBytes);
  if (!challenge.ok()) return challenge.status();
  auto id = NewUuidV4();
  if (!id.ok()) return id.status();
  int64_t now = NowMillis();
  PopChallenge pop{*id, *challenge, now, now + options_.challenge_ttl_s * 1000};
  if (!agent.ok()) return pop;  // unknown: the proof will fail
  auto updated = agents_->Update(agent_id, [&](VerifierAgent& a) {
    a.pop_session_id = pop.session_id;
    a.pop_challenge = pop.challenge;
    a.pop_expires_at_ms = pop.expires_at_ms;
    return Status::Ok();
  });
  if (!updated.ok()) return updated.status();
  return pop;
}

Result<PopOutcome> PopService::Complete(std::string_view session_id, std::string_view agent_id,
                                        std::string_view message, std::string_view signature) {
  PopOutcome out;
  out.response_received_at_ms = NowMillis();
  auto agent = Get(agent_id);
  if (!agent.ok() && agent.status().code() != StatusCode::kNotFound) return agent.status();
  if (!agent.ok()) {
    out.created_at_ms = out.expires_at_ms = out.response_received_at_ms;
    return out;  // unknown agent: a fail, as Keylime answers it
  }
  if (agent->pop_session_id.empty() || agent->pop_session_id != session_id) {
    return NotFound("no open proof-of-possession session with this id for this agent");
  }
  out.challenge = agent->pop_challenge;
  out.expires_at_ms = agent->pop_expires_at_ms;
  out.created_at_ms = agent->pop_expires_at_ms - options_.challenge_ttl_s * 1000;
  if (out.response_received_at_ms >= agent->pop_expires_at_ms) return out;
  Status proof = tpm::VerifySelfCertify(agent->ak_tpm, message, signature, agent->pop_challenge);
  if (!proof.ok()) {
    LogWarn("verifier: proof of possession failed",
            {{"agent_id", agent->agent_id}, {"reason", proof.message()}});
    out.proof_rejected = true;
    // Each challenge is answered once, as Keylime drops a failed session.
    (void)agents_->Update(agent_id, [&](VerifierAgent& a) {
      if (a.pop_session_id == session_id) a.pop_session_id.clear();
      return Status::Ok();
    });
    return out;
  }
  auto random = RandomBytes(kTokenBytes);
  if (!random.ok()) return random.status();
  BearerToken token{Base64UrlEncode(*random), NowMillis() + options_.token_ttl_s * 1000};
  auto updated = agents_->Update(agent_id, [&](VerifierAgent& a) {
    // One answer per challenge, even when two arrive at once.
    if (a.pop_session_id != session_id)
      return NotFound("the proof-of-possession session was answered meanwhile");
    a.pop_session_id.clear();
    a.pop_challenge.clear();
    a.token_hash = TokenHash(token.token);
    a.token_expires_at_ms = token.expires_at_ms;
    return Status::Ok();
  });
  if (!updated.ok()) return updated.status();
  out.pass = true;
  out.token = std::move(token);
  return out;
}

Status PopService::Authorize(std::string_view agent_id, std::string_view token) {
  auto agent = Get(agent_id);
  if (!agent.ok()) return agent.status();
  if (!agent->push_model)
    return Status(StatusCode::kPermissionDenied, "the agent is not enrolled in push mode");
  if (token.empty()) return Unauthenticated("a bearer token is required (POST /v3/sessions)");
  if (agent->token_hash.empty() || !ConstantTimeEquals(agent->token_hash, TokenHash(token)) ||
      NowMillis() >= agent->token_expires_at_ms) {
    return Unauthenticated("the bearer token is not valid for this agent");
  }
  return Status::Ok();
}

}  // namespace attestd
