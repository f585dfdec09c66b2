// What the daemon needs of a counter, and of the store that opens, keeps and
// re-adopts counters: the seam between agent/daemon and the kernel. The real
// ones are BpfCounter (bpf_counter.h) and KernelProbeStore
// (kernel_probe_store.h); the daemon's unit tests put fakes behind them.
#ifndef TALLY_AGENT_PROBE_COUNTER_H_
#define TALLY_AGENT_PROBE_COUNTER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/group_by.h"
#include "common/hook_spec.h"

namespace tally {

struct CounterOptions {
  GroupBy group_by = GroupBy::kNone;
  uint32_t tgid = 0;          // count only this process; 0 = all
  uint64_t cgroup_id = 0;     // count only this cgroup (v2 id); 0 = all
  uint32_t max_keys = 10240;  // bound of the per-key map when grouping

  bool operator==(const CounterOptions& o) const {
    return group_by == o.group_by && tgid == o.tgid &&
           cgroup_id == o.cgroup_id && max_keys == o.max_keys;
  }
};

struct KeyCount {
  std::string key;  // "1234" for numeric groupings, the name for comm
  uint64_t count = 0;
};

// With grouping, every event of `total` is in exactly one of: a key's
// count, `dropped_keys`, `reclaimed` (exact when nothing is counting; a read
// while counting sees key counts no newer than the total).
struct CounterSnapshot {
  uint64_t total = 0;  // events that passed the filters
  uint64_t dropped_keys =
      0;  // of those, events the full key map could not hold
  // Of those, events of keys removed when their thread, process or cgroup
  // ended, so that ended owners never crowd out live ones.
  uint64_t reclaimed = 0;
  uint64_t reclaimed_keys = 0;  // how many keys were removed so
  uint64_t distinct_keys = 0;   // keys in the map (when keys were read)
  std::vector<KeyCount> top_keys;  // highest count first, then by key
};

// What a probe costs the node.
struct CounterCost {
  // From the kernel's BPF statistics (BpfStats): runs of the counting
  // program and the time spent in it, and the same for the key reclaimer
  // (zero for groupings without one). They advance only while the
  // statistics are on, so ns per event is run_time / runs over those times.
  uint64_t runs = 0;
  absl::Duration run_time;
  uint64_t reclaimer_runs = 0;
  absl::Duration reclaimer_run_time;
  // Memory the kernel charges for the probe's maps (memlock).
  uint64_t map_bytes = 0;
};

class Counter {
 public:
  // Closes what this process holds. A counter its store keeps beyond the
  // agent (pinned) goes on counting; any other detaches.
  virtual ~Counter() = default;
  // top_n == 0 reads the totals only: a few syscalls whatever the key
  // count. Otherwise also every key, formatting the top_n.
  virtual absl::StatusOr<CounterSnapshot> Read(size_t top_n) const = 0;
  // Stops counting now, pinned or not; Read() keeps working and returns the
  // final counts.
  virtual void Detach() = 0;
  // A few syscalls, whatever the key count; works after Detach() too.
  virtual absl::StatusOr<CounterCost> Cost() const = 0;
};

struct OpenedCounter {
  std::unique_ptr<Counter> counter;
  AttachPoint attached;  // where it really attached
  std::string note;      // why that mechanism (syscall: alias)
};

// Something that holds the kernel's BPF statistics on; they go off when
// the last holder (anyone's) lets go.
class BpfStatsHold {
 public:
  virtual ~BpfStatsHold() = default;
};

// The kernel's BPF run-time statistics (BPF_ENABLE_STATS): while they are
// on, every BPF program on the node (not only tally's) pays two clock reads
// per run, so they are on only while someone needs them.
class BpfStats {
 public:
  virtual ~BpfStats() = default;
  // On until the hold is destroyed. PERMISSION_DENIED without
  // CAP_SYS_ADMIN (the sysctl kernel.bpf_stats_enabled still works).
  virtual absl::StatusOr<std::unique_ptr<BpfStatsHold>> Enable() = 0;
  // Whether the sysctl kernel.bpf_stats_enabled has them on for everyone
  // (other tools' holds cannot be seen).
  virtual bool On() const = 0;
};

// A time nobody counted a probe's events: the agent was down and the kernel
// could not keep the probe attached without it.
struct UncountedWindow {
  absl::Time from;
  absl::Time to;
  std::string reason;
};

// Everything needed to describe a probe again, and to attach it again,
// after an agent restart; a durable store keeps it with the probe.
struct ProbeRecord {
  std::string name;
  std::string hook;  // canonical requested spec
  CounterOptions options;
  AttachPoint attached;  // filled by ProbeStore::Open
  std::string note;      // filled by ProbeStore::Open: why that mechanism
  // The incarnation: random, unchanged when a restarted agent re-adopts it.
  uint64_t probe_id = 0;
  absl::Time started_at;
  absl::Duration ttl;                          // zero: no TTL
  absl::Time expires_at = absl::InfiniteFuture();
  std::string origin;  // where it was declared; empty: over the API
  std::vector<UncountedWindow> uncounted;
  uint64_t final_total = 0;  // once ended (ProbeStore::Retire)
};

// A probe an earlier agent left, as a restarted one finds it.
struct AdoptedProbe {
  ProbeRecord record;
  // Reads the same maps as before; null when it could not be re-adopted
  // (`problem` says why; the record is still there to report or remove).
  std::unique_ptr<Counter> counter;
  // How the counts continue, for people: kept counting (pinned link),
  // re-attached after a reported window, or restarted (another layout).
  std::string continuity;
  absl::Status problem;
  // The counts restarted: the maps could not be read (another layout), so
  // the probe must be opened afresh, as a new incarnation.
  bool must_reopen = false;
  // A probe whose TTL passed (ProbeStore::Retire): no counter, it stays
  // listed as expired.
  bool ended = false;
};

struct Adoption {
  std::vector<AdoptedProbe> probes;
  // Things in the store that are not a probe (left by something else, or
  // half-written), what was done about them.
  std::vector<std::string> warnings;
};

// Opens counters and keeps them; a durable store keeps them beyond this
// agent (pinned in bpffs) so that the next one re-adopts them. Slow (BPF
// load and verification): the daemon calls it on its worker thread only.
class ProbeStore {
 public:
  virtual ~ProbeStore() = default;

  // Resolves `hook` on this kernel, loads and attaches a counter with
  // `record->options`, fills `record->attached` and `record->note`, and
  // keeps the record with it.
  virtual absl::StatusOr<OpenedCounter> Open(const HookSpec& hook,
                                             ProbeRecord* record) = 0;
  // Keeps a changed record (a renewed TTL, a new uncounted window).
  virtual absl::Status Update(const ProbeRecord& record) = 0;
  // Forgets a stopped probe: whatever would keep it beyond this agent goes.
  virtual absl::Status Remove(const std::string& name) = 0;
  // Keeps only the record of a probe whose TTL passed, so that the next
  // agent lists it as expired with its final total (and does not start a
  // declared one again); Remove forgets it.
  virtual absl::Status Retire(const ProbeRecord& record) = 0;
  // Re-adopts every probe an earlier agent left; once, before serving.
  virtual Adoption AdoptAll() = 0;
  // The agent is alive at `now`: where it dies, a window starts here.
  virtual void MarkAlive(absl::Time now) = 0;
  // Whether probes outlive this agent.
  virtual bool durable() const = 0;
};

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_COUNTER_H_
