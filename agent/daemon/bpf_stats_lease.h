// When tallyd holds the kernel's BPF run-time statistics on. They cost
// every BPF program on the node (not only tally's) two clock reads per run,
// so by default (on demand) they are on only while someone asks for a
// probe's run time, a ListProbes call or a metrics scrape, and for
// `hold` after the last ask; --bpf_stats=always holds them for the agent's
// life, off never turns them on.
#ifndef TALLY_AGENT_DAEMON_BPF_STATS_LEASE_H_
#define TALLY_AGENT_DAEMON_BPF_STATS_LEASE_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/probe/counter.h"
#include "common/clock.h"

namespace tally {

enum class BpfStatsMode { kOff, kOnDemand, kAlways };

// "off", "on_demand", "always"; INVALID_ARGUMENT otherwise.
absl::StatusOr<BpfStatsMode> ParseBpfStatsMode(absl::string_view text);

class BpfStatsLease {
 public:
  struct State {
    bool on = false;  // held by this agent, or on by the sysctl
    // Since when this agent holds them; InfinitePast when it does not.
    absl::Time held_since = absl::InfinitePast();
    // Why this agent could not turn them on; empty when it could.
    std::string problem;
  };

  // `stats` (null: none, as in tests without a kernel) and `clock` must
  // outlive the lease.
  BpfStatsLease(BpfStats* stats, BpfStatsMode mode, absl::Duration hold,
                Clock* clock);
  ~BpfStatsLease();
  BpfStatsLease(const BpfStatsLease&) = delete;
  BpfStatsLease& operator=(const BpfStatsLease&) = delete;

  // Someone wants run times: on until `hold` from now (on demand).
  void Ask() ABSL_LOCKS_EXCLUDED(mu_);
  State state() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Takes the hold; records why not.
  void EnableLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Lets go once the last ask is `hold` old.
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  BpfStats* const stats_;
  const BpfStatsMode mode_;
  const absl::Duration hold_;
  Clock* const clock_;

  mutable absl::Mutex mu_;
  std::unique_ptr<BpfStatsHold> held_ ABSL_GUARDED_BY(mu_);
  absl::Time held_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time expires_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string problem_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // on demand only
};

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_BPF_STATS_LEASE_H_
