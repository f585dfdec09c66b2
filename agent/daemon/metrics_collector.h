// What tallyd's /metrics says: one pass over the probes per scrape (each
// running probe's maps read once, keys only for grouped ones, plus its
// cost: a few syscalls), never a map walk per series. Per grouped probe at
// most `top_keys` key series and one remainder, so the series a probe makes
// are bounded whatever its key count, and a key that leaves the top set
// leaves no series behind (Prometheus marks it stale at the next scrape).
//
// Key walks are the expensive part (every key of every grouped probe), so a
// scrape re-reads a probe's keys only when its counts moved since the last
// walk and that walk is older than `keys_max_age`; otherwise it reads the
// totals alone (one syscall) and reuses the top keys, which never exceed
// them: the remainder absorbs the difference, so keys still add up.
//
// Counter continuity: every per-probe series carries the probe's
// incarnation (probe_id), and its values are the kernel's own counts, so a
// restarted agent that re-adopts a pinned probe continues its series where
// they were; a new incarnation is a new series starting at 0.
#ifndef TALLY_AGENT_DAEMON_METRICS_COLLECTOR_H_
#define TALLY_AGENT_DAEMON_METRICS_COLLECTOR_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/daemon/agent_service.h"
#include "agent/daemon/bpf_stats_lease.h"
#include "agent/daemon/declared_probes.h"
#include "agent/daemon/probe_manager.h"
#include "common/clock.h"

namespace tally {

// The most key series per probe an operator may ask for (--metrics_top_keys).
inline constexpr uint32_t kMaxMetricsTopKeys = 1000;

class MetricsCollector {
 public:
  // All pointers must outlive the collector.
  MetricsCollector(AgentIdentity identity, std::string kernel_release,
                   const ProbeManager* manager, BpfStatsLease* stats,
                   uint32_t top_keys, absl::Duration keys_max_age,
                   Clock* clock);

  // What start-up found that needs a person (GetInfo's warnings): counted.
  void SetWarnings(size_t count) ABSL_LOCKS_EXCLUDED(mu_);
  // With --probes_file; cleared (null) before it is destroyed.
  void SetDeclaredProbes(const DeclaredProbes* declared)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The exposition text. Scrapes run one at a time (a second waits), and
  // each asks for the kernel's run-time statistics (on demand).
  std::string Scrape() ABSL_LOCKS_EXCLUDED(scrape_mu_, mu_);

 private:
  struct KeyWalk {
    absl::Time at;
    CounterSnapshot counts;
  };
  // The probe's counts: totals always fresh, keys per the rule above.
  absl::StatusOr<CounterSnapshot> ReadProbe(const ActiveProbe& probe,
                                            absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(scrape_mu_);

  const AgentIdentity identity_;
  const std::string kernel_release_;
  const ProbeManager* const manager_;
  BpfStatsLease* const stats_;
  const uint32_t top_keys_;
  const absl::Duration keys_max_age_;
  Clock* const clock_;

  absl::Mutex scrape_mu_;  // one pass over the maps at a time
  // Grouped probes' last key walks, by incarnation.
  std::map<uint64_t, KeyWalk> walks_ ABSL_GUARDED_BY(scrape_mu_);
  mutable absl::Mutex mu_;
  size_t warnings_ ABSL_GUARDED_BY(mu_) = 0;
  const DeclaredProbes* declared_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_METRICS_COLLECTOR_H_
