// A small fleet on one machine: each agent in its own network namespace
// with its own address, reached from the test over a veth pair. Everything
// the fleet creates is removed on destruction, also after a failure.
//
// Traffic stays on links this object created: 10.X.i.0/30 with X derived
// from the test's pid.
#ifndef TALLY_TESTS_TESTING_NETNS_FLEET_H_
#define TALLY_TESTS_TESTING_NETNS_FLEET_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/testing/agent_process.h"

namespace tally::testing {

class NetnsFleet {
 public:
  // Creates `size` namespaces with addresses; no agents yet.
  static absl::StatusOr<std::unique_ptr<NetnsFleet>> Create(int size);
  ~NetnsFleet();

  int size() const { return static_cast<int>(namespaces_.size()); }
  const std::string& address(int i) const { return addresses_[i]; }
  const std::string& netns(int i) const { return namespaces_[i]; }
  // "10.X.i.2:7070".
  std::string endpoint(int i) const;
  static constexpr int kPort = 7070;

  // Starts tallyd in namespace i with mutual TLS (certificates from
  // `pki_dir`, as written by scripts/gen-certs.sh) and `extra_args`.
  // Replaces a previous one.
  absl::Status StartAgent(int i, const std::string& pki_dir,
                          const std::vector<std::string>& extra_args = {});
  AgentProcess* agent(int i) { return agents_[i].get(); }
  // Node i's pin directory: kept across its agent's restarts, removed with
  // the fleet.
  std::string PinDir(int i) const;
  void KillAgent(int i);

 private:
  NetnsFleet() = default;

  std::vector<std::string> namespaces_;
  std::vector<std::string> host_links_;
  std::vector<std::string> addresses_;
  std::vector<std::string> pin_dirs_;
  std::vector<std::unique_ptr<AgentProcess>> agents_;
};

}  // namespace tally::testing

#endif  // TALLY_TESTS_TESTING_NETNS_FLEET_H_
