// TLS material attestd makes for itself when an operator gives none: a
// private CA, one server certificate per listener and one client
// certificate for the operator's tools (the Keylime tenant), all under a
// data directory and reused on later starts.
//
// Promises:
// - OpenSSL 3 only; every key is ECDSA P-256, every certificate SHA-256
//   signed. The CA lives 10 years; server and client certificates 2 years.
// - Files are created with mode 0600 in a directory created with mode 0700
//   (`<data_dir>/tls`). Existing files are reused as they are; a server or
//   client certificate that has expired, or that the CA did not issue, is
//   replaced; a missing or unreadable CA is an error rather than silently
//   replaced when certificates issued by it exist.
// - The server certificate names the listener's host (IP or DNS) plus
//   localhost and 127.0.0.1 / ::1. Clients of attestd check it against
//   the CA (the Keylime tenant does no hostname check).
// - Not safe against two processes creating the same directory at once.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace attestd {

struct TlsMaterial {
  std::string ca_cert;      // PEM; give it to clients (and as the listener's client CA)
  std::string server_cert;  // PEM chain for the listener
  std::string server_key;   // PEM private key
  std::string client_cert;  // PEM client certificate for tools (tenant)
  std::string client_key;
  bool generated = false;  // something was created on this call
};

// Ensures `<data_dir>/tls/{ca,<listener>-server,client}.{crt,key}` exist and
// are valid. `hosts`: names to put in the server certificate's SAN.
Result<TlsMaterial> EnsureTlsMaterial(const std::string& data_dir, const std::string& listener,
                                      const std::vector<std::string>& hosts);

}  // namespace attestd
