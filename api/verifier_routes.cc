#include "api/verifier_routes.h"

#include "api/keylime/keylime_api.h"

namespace attestd::api {

std::shared_ptr<Router> MakeVerifierRouter() { return keylime::MakeKeylimeRouter(); }

}  // namespace attestd::api
