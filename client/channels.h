// Connection set-up shared by every tallyctl command.
#ifndef TALLY_CLIENT_CHANNELS_H_
#define TALLY_CLIENT_CHANNELS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/targets.h"

namespace tally::cli {

struct TlsOptions {
  std::string ca;           // CA bundle that signed the agents' certificates
  std::string cert;         // client certificate (mutual TLS)
  std::string key;          // its private key
  std::string server_name;  // name to verify instead of the address's host
  bool enabled() const { return !ca.empty() || !cert.empty() || !key.empty(); }
};

class ChannelFactory {
 public:
  // Reads the TLS files once; INVALID_ARGUMENT when they are unusable.
  static absl::StatusOr<ChannelFactory> Create(const TlsOptions& tls);

  // unix: targets are always plaintext (the socket's permissions guard them);
  // TCP targets use TLS when TLS options were given.
  std::shared_ptr<grpc::Channel> Channel(const AgentTarget& target) const;

 private:
  TlsOptions tls_;
  std::shared_ptr<grpc::ChannelCredentials> tls_creds_;
};

// "CODE: message", as printed per failed agent.
std::string DescribeStatus(const grpc::Status& status);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_CHANNELS_H_
