// Owns the agent's probes. The one serialization point for load and unload:
// StartProbe and StopProbe run on a single worker thread (BPF load and
// verification can take milliseconds or more), never on a gRPC thread. The
// worker also stops probes whose TTL has passed and tells a durable store
// the agent is alive. At start-up it re-adopts what an earlier agent left.
#ifndef TALLY_AGENT_DAEMON_PROBE_MANAGER_H_
#define TALLY_AGENT_DAEMON_PROBE_MANAGER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/daemon/limits.h"
#include "agent/probe/counter.h"
#include "common/clock.h"
#include "common/hook_spec.h"

namespace tally {

enum class ProbeState { kRunning, kStopped, kExpired, kFailed, kSkipped };

struct ProbeConfig {
  std::string name;
  HookSpec hook;
  CounterOptions options;
  absl::Duration ttl = absl::ZeroDuration();  // zero: no TTL
};

// A probe the probes file declares.
struct DeclaredConfig {
  ProbeConfig config;
  // Skipped, not failed, where the kernel lacks the mechanism or the
  // target does not exist.
  bool optional = false;
  int line = 0;  // where the file declares it
};

// What one reconcile did.
struct ReconcileResult {
  int started = 0;
  int replaced = 0;  // spec changed: a new incarnation
  int stopped = 0;   // no longer declared
  int unchanged = 0;
  int skipped = 0;
  int failed = 0;
};

// A probe as this agent holds it. Immutable once created (but for Detach,
// which only the worker calls); shared with the sampler, which reads the
// counter without the manager's lock.
struct ActiveProbe {
  uint64_t id = 0;  // the incarnation, kept when re-adopted after a restart
  std::string name;
  std::string hook;  // canonical requested spec
  CounterOptions options;
  AttachPoint attached;
  std::string note;
  absl::Time started_at;
  // Re-adopted from an earlier agent, and how its counts continued.
  bool readopted = false;
  std::string continuity;
  std::vector<UncountedWindow> uncounted;
  // Read() and Detach() may overlap: reads use only the maps' fds. Null for
  // a probe that could not be re-adopted (state kFailed).
  std::unique_ptr<Counter> counter;
};

// A probe as the API describes it.
struct ProbeInfo {
  std::shared_ptr<const ActiveProbe> probe;
  absl::Duration ttl;
  absl::Time expires_at;  // InfiniteFuture without a TTL
  ProbeState state = ProbeState::kRunning;
  std::string error;   // why, for kFailed and kSkipped
  std::string origin;  // the probes file that declares it; empty: the API
  uint64_t total = 0;
  std::optional<CounterCost> cost;  // List(with_cost=true), running only
};

struct StartResult {
  ProbeInfo info;
  bool created = false;
};

// Told when a probe ends, with its final counts (read after it detached, so
// no later read can exceed them).
class ProbeListener {
 public:
  virtual ~ProbeListener() = default;
  virtual void OnProbeEnded(const ActiveProbe& probe,
                            const CounterSnapshot& final_counts,
                            ProbeState state) = 0;
};

// The running probes, for the sampler.
class ProbeSource {
 public:
  virtual ~ProbeSource() = default;
  virtual std::vector<std::shared_ptr<const ActiveProbe>> ActiveProbes()
      const = 0;
};

class ProbeManager : public ProbeSource {
 public:
  using StartDone = std::function<void(absl::StatusOr<StartResult>)>;
  using StopDone = std::function<void(absl::StatusOr<ProbeInfo>)>;
  // Whether the caller still waits for the answer; asked before the probe
  // is loaded and again before it is kept.
  using StillWanted = std::function<bool()>;

  // `store` and `clock` must outlive the manager.
  ProbeManager(ProbeStore* store, const AgentLimits& limits, Clock* clock);
  // Stops the worker. Probes a durable store keeps go on counting; others
  // are detached.
  ~ProbeManager() override;

  // Called once, before any probe starts.
  void SetListener(ProbeListener* listener);

  // Re-adopts what an earlier agent left in the store (once, before
  // serving): same names, incarnations and counts. Expired TTLs are stopped;
  // probes whose maps another layout wrote start afresh. Returns what the
  // store reported that is not a probe, for GetInfo.
  std::vector<std::string> Adopt() ABSL_LOCKS_EXCLUDED(mu_);

  // Asynchronous; `done` runs on the worker thread. Same name and spec:
  // the running probe, TTL renewed. Same name, other spec: ALREADY_EXISTS.
  // CANCELLED, with nothing left attached, when `still_wanted` says the
  // caller gave up (a deadline or a cancel) before the probe was kept.
  void Start(ProbeConfig config, StartDone done,
             StillWanted still_wanted = nullptr) ABSL_LOCKS_EXCLUDED(mu_);
  // NOT_FOUND for an unknown name; UNAVAILABLE once shutting down;
  // FAILED_PRECONDITION naming the file for a declared probe.
  void Stop(std::string name, StopDone done) ABSL_LOCKS_EXCLUDED(mu_);

  // Makes `origin` the probes file that owns its probes (the API may not
  // stop or redefine them) before its first reconcile, so that probes
  // re-adopted from it stay its own while it does not parse. Returns how
  // many of the probes here it declares.
  uint32_t ClaimDeclared(const std::string& origin) ABSL_LOCKS_EXCLUDED(mu_);

  // Converges the probes declared by `origin` (a probes file) to
  // `declared`: starts new ones, replaces changed ones (a new incarnation),
  // stops those no longer declared, leaves unchanged ones alone (no detach,
  // no count reset), and retries ones that could not run. One that still
  // cannot is listed as skipped (optional, the kernel lacks the mechanism
  // or the target) or failed, with the reason. Asynchronous, on the worker.
  void Reconcile(std::string origin, std::vector<DeclaredConfig> declared,
                 std::function<void(ReconcileResult)> done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Every probe with its total, failed ones too; an error when a counter
  // cannot be read (never a partial answer). `with_cost`: also what each
  // running probe costs (unset where the kernel would not say).
  absl::StatusOr<std::vector<ProbeInfo>> List(bool with_cost = false) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Every probe as List() describes it but without reading any counter
  // (totals 0): for a reader that reads each counter once itself.
  std::vector<ProbeInfo> Describe() const ABSL_LOCKS_EXCLUDED(mu_);
  bool Exists(const std::string& name) const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::shared_ptr<const ActiveProbe>> ActiveProbes() const override
      ABSL_LOCKS_EXCLUDED(mu_);

  // Refuses further starts and stops (UNAVAILABLE). Probes a durable store
  // keeps are left counting for the next agent; others stop with a final
  // update and are detached when this returns.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    std::shared_ptr<const ActiveProbe> probe;
    absl::Duration ttl;
    absl::Time expires_at;
    // Set for a probe that is listed but not counting: it could not be
    // re-adopted (kFailed), or a declared one could not start (kFailed,
    // kSkipped).
    std::string error;
    ProbeState not_running = ProbeState::kFailed;
    std::string origin;  // the probes file; empty: the API
    uint64_t final_total = 0;  // an expired probe's last total
  };
  // Expired probes started over the API stay listed this many at most (the
  // oldest go first); they do not count against max_probes.
  static constexpr size_t kMaxExpiredKept = 100;

  // Queues `task` for the worker; false when the queue is full.
  bool Post(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<StartResult> DoStart(const ProbeConfig& config,
                                      const StillWanted& still_wanted,
                                      const std::string& origin = "")
      ABSL_LOCKS_EXCLUDED(mu_);
  ReconcileResult DoReconcile(const std::string& origin,
                              const std::vector<DeclaredConfig>& declared)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<ProbeInfo> DoStop(const std::string& name, ProbeState state)
      ABSL_LOCKS_EXCLUDED(mu_);
  void StopExpired() ABSL_LOCKS_EXCLUDED(mu_);
  // A probe whose TTL passed stays listed (and kept) as expired, with its
  // final total, until it is stopped or started again.
  void KeepExpired(const ProbeInfo& ended) ABSL_LOCKS_EXCLUDED(mu_);
  // Probes that count against max_probes: all but expired ones.
  size_t CountedProbes() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What the store keeps for `entry`.
  static ProbeRecord RecordOf(const Entry& entry);
  // The entry as the API describes it, without reading its counter.
  static ProbeInfo Describe(const Entry& entry, ProbeState state);
  // Describe() with its current total (running) or error (failed).
  absl::StatusOr<ProbeInfo> InfoOf(const Entry& entry) const;

  ProbeStore* const store_;
  const AgentLimits limits_;
  Clock* const clock_;
  ProbeListener* listener_ = nullptr;

  mutable absl::Mutex mu_;
  std::map<std::string, Entry> probes_ ABSL_GUARDED_BY(mu_);
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_worker_ ABSL_GUARDED_BY(mu_) = false;
  // Never before Adopt() has read the last agent's sign of life: marking
  // first would hide the start of its uncounted windows.
  absl::Time next_alive_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  // The probes file last reconciled: its probes are stopped there, not by
  // StopProbe. (Probes an earlier agent declared in another file are not.)
  std::string declaring_file_ ABSL_GUARDED_BY(mu_);

  std::thread worker_;
};

absl::string_view ProbeStateName(ProbeState state);

// A new incarnation id: random and non-zero, so it stays unique across
// agent restarts (the epoch changes; a re-adopted probe keeps its id).
uint64_t NewProbeId();

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_PROBE_MANAGER_H_
