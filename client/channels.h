// Connections to agents, shared by every tallyctl command: a gRPC channel
// per agent, over tallyctl's own TLS tunnel (tls_tunnel.h) for TCP agents
// when any TLS option is given, plain gRPC otherwise; and what to tell the
// operator when a call on one fails.
#ifndef TALLY_CLIENT_CHANNELS_H_
#define TALLY_CLIENT_CHANNELS_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/targets.h"
#include "client/tls_tunnel.h"

namespace tally::cli {

// One agent's connection: the channel, and the TLS tunnel under it if any.
struct AgentConnection {
  std::shared_ptr<grpc::Channel> channel;  // null when `error` is set
  std::shared_ptr<TunnelState> tunnel;     // TLS agents only
  absl::Duration patience;                 // how long the agent may take
  bool plaintext_tcp = false;
  // Why no channel could be made (no file descriptor left, no address).
  absl::Status error;

  // Runs `ready(true)` once calls can start: when the TLS tunnel is up, at
  // once without TLS; `ready(false)` when they never can (then Describe
  // says why). Once, here or on the tunnel's pump thread; must not block.
  void WhenReady(std::function<void(bool)> ready) const;
};

class ChannelFactory {
 public:
  // Reads the TLS files once; INVALID_ARGUMENT when they are unusable.
  static absl::StatusOr<ChannelFactory> Create(const TlsOptions& tls);

  // Starts connecting to `target`. unix: targets are plaintext (the
  // socket's permissions guard them); TCP targets use TLS when TLS options
  // were given, the agent taking at most `patience` per handshake step.
  AgentConnection Connect(const AgentTarget& target,
                          absl::Duration patience) const;

  // "CODE: message" for a call that failed on `connection`: the TLS
  // tunnel's reason when that is what failed, else gRPC's status with its
  // transport jargon turned into what most likely happened.
  std::string Describe(const grpc::Status& status,
                       const AgentConnection& connection) const;

  bool tls() const { return tunnels_ != nullptr; }
  // File descriptors one agent's connection holds.
  size_t fds_per_agent() const { return tls() ? TlsTunnels::kFdsPerTunnel : 1; }

 private:
  TlsOptions tls_;
  std::shared_ptr<TlsTunnels> tunnels_;
};

// "CODE: message", as printed per failed agent.
std::string DescribeStatus(const grpc::Status& status);
std::string DescribeStatus(const absl::Status& status);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_CHANNELS_H_
