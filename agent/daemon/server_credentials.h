// How tallyd listens: a unix socket by default; TCP only with mutual TLS,
// unless the operator explicitly asks for plaintext.
#ifndef TALLY_AGENT_DAEMON_SERVER_CREDENTIALS_H_
#define TALLY_AGENT_DAEMON_SERVER_CREDENTIALS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace tally {

struct ListenConfig {
  std::string address;        // "unix:/path" or "host:port"
  std::string tls_cert;       // server certificate chain (PEM file)
  std::string tls_key;        // its private key (PEM file)
  std::string tls_client_ca;  // CA that signs client certificates (PEM file)
  bool insecure_plaintext = false;
};

bool IsUnixAddress(const std::string& address);
// The socket path of a "unix:" address.
std::string UnixSocketPath(const std::string& address);

// INVALID_ARGUMENT explaining what to pass when the combination is unsafe or
// incomplete (TCP without TLS and without --insecure_plaintext, half the TLS
// files); NOT_FOUND for unreadable files.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ListenConfig& config);

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_SERVER_CREDENTIALS_H_
