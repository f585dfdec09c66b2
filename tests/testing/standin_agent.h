// Stand-in agents: real gRPC servers implementing tally.v1.Agent with
// synthetic counts, many per process, for tallyctl's tests and benchmarks
// (2000 real tallyd processes do not fit on one machine, and cannot be made
// to hang on cue).
//
// Each agent has its own server, port, node name and epoch; StartProbe makes
// a probe whose total grows at a fixed rate from its start; WatchCounts keeps
// the real agent's contract (snapshot first, one update per probe per
// aligned interval, final update on stop, a heartbeat in a tick with nothing
// else, the latest value per probe for a slow reader). One ticker thread
// serves every agent of a fleet.
#ifndef TALLY_TESTS_TESTING_STANDIN_AGENT_H_
#define TALLY_TESTS_TESTING_STANDIN_AGENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tally::testing {

class StandinAgent;

struct StandinOptions {
  // Where each agent listens; the port is chosen per agent.
  std::string host = "127.0.0.1";
  // Mutual TLS as tallyd does it (PEM file paths: certificate, key, the CA
  // clients must be signed by); all empty: plaintext.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string node_prefix = "standin-";
  // Events per second counted by every synthetic probe.
  double events_per_second = 1000;
};

class StandinFleet {
 public:
  // Starts `count` agents, each listening on its own port.
  static absl::StatusOr<std::unique_ptr<StandinFleet>> Start(
      int count, StandinOptions options);
  ~StandinFleet();

  size_t size() const { return addresses_.size(); }
  // "127.0.0.1:PORT".
  const std::string& address(size_t i) const { return addresses_[i]; }
  std::string node(size_t i) const;

  // Hangs agent i as a stopped process would look to its clients: its
  // streams get nothing more and its calls are not answered until Thaw.
  // (Connections and TLS handshakes still complete; for a hang below that,
  // SIGSTOP a standin_fleet process.)
  void Freeze(size_t i) ABSL_LOCKS_EXCLUDED(mu_);
  void Thaw(size_t i) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops agent i (its streams end, its port refuses connections); Restart
  // brings it back on the same port with a new epoch and no probes. Not
  // concurrent with Thaw, Stop or Restart of the same agent.
  void Stop(size_t i) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Restart(size_t i) ABSL_LOCKS_EXCLUDED(mu_);
  // Watch streams agent i serves now.
  size_t streams(size_t i) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit StandinFleet(StandinOptions options);
  absl::StatusOr<std::unique_ptr<StandinAgent>> StartAgent(size_t i,
                                                           int port);
  void Tick() ABSL_LOCKS_EXCLUDED(mu_);

  const StandinOptions options_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  std::vector<std::string> addresses_;
  std::vector<int> ports_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<StandinAgent>> agents_ ABSL_GUARDED_BY(mu_);
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread ticker_;
};

}  // namespace tally::testing

#endif  // TALLY_TESTS_TESTING_STANDIN_AGENT_H_
