// The Keylime-compatible registrar's two route tables (docs/keylime-compatibility.md,
// "Registrar"), in the Keylime envelope under every versioned prefix:
//
// public listener (agents, plain HTTP allowed):
//   POST /vX/agents/{id}           register → {"blob": b64}
//   POST /vX/agents                register, agent_id in the body (v3.0 form)
//   PUT  /vX/agents/{id}           activate with {"auth_tag"}
//   PUT|POST /vX/agents/{id}/activate
// admin listener (tenant; mTLS):
//   GET    /vX/agents              {"uuids": [...]} (active agents, flat list)
//   GET    /vX/agents/{id}         the registration; 404 unless active
//   DELETE /vX/agents/{id}
// and GET /version on both. The routes decode JSON and base64 only; every
// rule about keys and challenges is RegistrarService's.
#pragma once

#include <memory>

#include "api/router.h"
#include "service/registrar_service.h"

namespace attestd::api {

std::shared_ptr<Router> MakeRegistrarPublicRouter(std::shared_ptr<RegistrarService> service);
std::shared_ptr<Router> MakeRegistrarAdminRouter(std::shared_ptr<RegistrarService> service);

}  // namespace attestd::api
