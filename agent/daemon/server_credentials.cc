#include "agent/daemon/server_credentials.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace tally {

bool IsUnixAddress(const std::string& address) {
  return absl::StartsWith(address, "unix:");
}

std::string UnixSocketPath(const std::string& address) {
  std::string path = address.substr(5);
  // "unix:///run/x.sock" and "unix:/run/x.sock" name the same socket.
  if (absl::StartsWith(path, "//")) path = path.substr(2);
  return path;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ListenConfig& config) {
  const bool any_tls = !config.tls_cert.empty() || !config.tls_key.empty() ||
                       !config.tls_client_ca.empty();
  const bool all_tls = !config.tls_cert.empty() && !config.tls_key.empty() &&
                       !config.tls_client_ca.empty();
  if (any_tls && !all_tls) {
    return absl::InvalidArgumentError(
        "TLS needs all of --tls_cert, --tls_key and --tls_client_ca (clients "
        "must present a certificate signed by that CA)");
  }
  if (any_tls && config.insecure_plaintext) {
    return absl::InvalidArgumentError(
        "--insecure_plaintext contradicts the TLS flags; pass one or the "
        "other");
  }
  if (all_tls) {
    grpc::SslServerCredentialsOptions options(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ASSIGN_OR_RETURN(options.pem_root_certs, ReadFile(config.tls_client_ca));
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    ASSIGN_OR_RETURN(pair.private_key, ReadFile(config.tls_key));
    ASSIGN_OR_RETURN(pair.cert_chain, ReadFile(config.tls_cert));
    options.pem_key_cert_pairs.push_back(std::move(pair));
    return grpc::SslServerCredentials(options);
  }
  if (IsUnixAddress(config.address)) {
    // File permissions guard the socket (0600, root).
    return grpc::InsecureServerCredentials();
  }
  if (!config.insecure_plaintext) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing plaintext TCP on ", config.address,
        ": anyone who reaches it could load kernel programs. Pass --tls_cert, "
        "--tls_key and --tls_client_ca for mutual TLS, listen on a unix "
        "socket, or pass --insecure_plaintext if this network is trusted"));
  }
  LOG(WARNING) << "serving plaintext TCP on " << config.address
               << " (--insecure_plaintext): anyone who can connect can load "
                  "kernel programs on this node";
  return grpc::InsecureServerCredentials();
}

}  // namespace tally
