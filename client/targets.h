// Which agents tallyctl talks to: --agents / $TALLY_AGENTS.
//
//   HOST:PORT          one agent over TCP ([v6]:PORT too)
//   unix:PATH          one agent on a unix socket
//   dns:NAME:PORT      every address NAME resolves to, one agent each (a
//                      Kubernetes headless Service lists every agent pod)
//   @FILE              one of the above per line (or several, comma
//                      separated); '#' starts a comment
//
// Several, comma-separated. Default: the local agent's unix socket. A unix
// path is normalized (repeated slashes, "." parts), and an address listed
// twice is one agent.
#ifndef TALLY_CLIENT_TARGETS_H_
#define TALLY_CLIENT_TARGETS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tally::cli {

inline constexpr char kDefaultAgent[] = "unix:/run/tally/tallyd.sock";

struct AgentTarget {
  std::string label;        // as the user named it, e.g. "10.0.0.7:7070"
  std::string grpc_target;  // for grpc::CreateChannel
  // TLS name to verify, when not the host in grpc_target (dns: targets
  // verify NAME, which the agents' certificate covers, not each pod IP).
  std::string tls_name;
  // Set when this entry could not be turned into an address (DNS failure):
  // the agent then counts as failed, without blocking the others.
  std::string error;
};

// INVALID_ARGUMENT for malformed entries (naming the file and line for
// @FILE); DNS failures are per-target errors instead.
absl::StatusOr<std::vector<AgentTarget>> ParseAgents(const std::string& spec);

// Whether parsing `spec` again may give other agents (it names a dns: name
// or an @FILE).
bool MayChange(const std::string& spec);

// What identifies a target across re-resolutions: its address, or for an
// entry that did not resolve, the entry itself.
std::string TargetKey(const AgentTarget& target);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_TARGETS_H_
