// One sampler for all watchers: reads each watched probe's maps once per tick
// and fans the result out. Ticks are aligned to multiples of each interval,
// so watchers with the same interval share one read however many there are.
// Keys are read only for probes whose due watchers ask for top keys, and a
// new watcher's snapshot reuses the probe's latest read when it is younger
// than the watcher's interval and holds enough keys: however many watchers
// come and go, a probe's keys are read at most once per due tick.
//
// Watchers must not block (see Watcher): a stalled client never delays the
// sampler or the other watchers.
#ifndef TALLY_AGENT_DAEMON_SAMPLER_H_
#define TALLY_AGENT_DAEMON_SAMPLER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/daemon/limits.h"
#include "agent/daemon/probe_manager.h"
#include "agent/probe/counter.h"
#include "common/clock.h"

namespace tally {

struct CountUpdate {
  std::string probe;
  uint64_t probe_id = 0;
  uint64_t seq = 0;  // agent-wide, increasing in the order watchers get them
  absl::Time started_at;  // of this incarnation
  std::vector<UncountedWindow> uncounted;
  absl::Time time;
  CounterSnapshot counts;
  std::string mechanism;
  ProbeState state = ProbeState::kRunning;
  // No probe: a tick that had nothing else for this watcher (see
  // WatchCountsResponse.heartbeat). Only seq and time are set.
  bool heartbeat = false;
};

class Watcher {
 public:
  virtual ~Watcher() = default;
  // Takes the update or replaces an unsent older one of the same probe.
  // Called with the sampler's lock held: must not block or call back.
  virtual void Offer(const CountUpdate& update) = 0;
  // The agent is shutting down: finish once pending updates are sent.
  virtual void Close() = 0;
  // True once the watcher's RPC is over; the sampler then deletes it.
  virtual bool Done() const = 0;
};

struct WatchSpec {
  std::set<std::string> probes;  // empty: all, including later ones
  absl::Duration interval;
  uint32_t top_n = 0;
};

class Sampler : public ProbeListener {
 public:
  // `source` and `clock` must outlive the sampler.
  Sampler(const ProbeSource* source, const AgentLimits& limits, Clock* clock);
  ~Sampler() override;

  // RESOURCE_EXHAUSTED past the watcher limit, UNAVAILABLE after CloseAll;
  // then the caller keeps `watcher`. Otherwise the sampler owns it and
  // deletes it once Done(): watchers are only called, and deleted, under the
  // sampler's lock, so a watcher's own reactions never need that lock.
  // The watcher gets a snapshot at once, then one update per interval.
  absl::Status AddWatcher(Watcher* watcher, WatchSpec spec)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Closes every watcher and refuses new ones.
  void CloseAll() ABSL_LOCKS_EXCLUDED(mu_);

  void OnProbeEnded(const ActiveProbe& probe, const CounterSnapshot& counts,
                    ProbeState state) override ABSL_LOCKS_EXCLUDED(mu_);

  size_t watcher_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    Watcher* watcher;
    WatchSpec spec;
    absl::Time next_due;  // InfinitePast: owes its snapshot
  };
  // A probe's latest read, for snapshots.
  struct LastRead {
    uint32_t top_n = 0;
    CountUpdate update;
  };

  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes watchers whose RPC is over.
  void ReapLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static bool Wants(const WatchSpec& spec, const std::string& probe);
  // Gives `update` (with a fresh seq) to every watcher in `ids` that wants it
  // (all watchers when null), adding the ids it went to into `offered`.
  void OfferLocked(CountUpdate& update, const std::vector<uint64_t>* ids,
                   std::set<uint64_t>* offered = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A heartbeat to each of `due` that is not in `offered`.
  void HeartbeatLocked(const std::vector<uint64_t>& due,
                       const std::set<uint64_t>& offered, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ProbeSource* const source_;
  const AgentLimits limits_;
  Clock* const clock_;

  mutable absl::Mutex mu_;
  std::map<uint64_t, Entry> watchers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_watcher_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Recently ended probe incarnations: a read that raced with a stop must
  // not reach watchers after the final update.
  std::deque<uint64_t> ended_ids_ ABSL_GUARDED_BY(mu_);
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // By probe incarnation id; the sampler thread's alone.
  std::map<uint64_t, LastRead> last_reads_;

  std::thread thread_;
};

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_SAMPLER_H_
