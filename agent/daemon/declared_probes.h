// tallyd --probes_file: keeps the agent converged to the probes a file
// declares, at start and on every change, and says how that is going. A
// file that does not parse or validate changes nothing: the last good set
// keeps running, and the error (FILE:LINE) is reported until it is fixed.
#ifndef TALLY_AGENT_DAEMON_DECLARED_PROBES_H_
#define TALLY_AGENT_DAEMON_DECLARED_PROBES_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/daemon/file_watcher.h"
#include "agent/daemon/host_pids.h"
#include "agent/daemon/limits.h"
#include "agent/daemon/probe_manager.h"
#include "common/clock.h"
#include "tally/v1/agent.pb.h"

namespace tally {

class DeclaredProbes {
 public:
  // Reconciles to `path` once before returning, then on every change.
  // FAILED_PRECONDITION when the file's directory cannot be watched. All
  // pointers must outlive the object.
  static absl::StatusOr<std::unique_ptr<DeclaredProbes>> Start(
      std::string path, ProbeManager* manager, const AgentLimits& limits,
      std::string node, const HostPids* host_pids, Clock* clock);

  // Stops watching (no reconcile starts after it returns).
  ~DeclaredProbes();

  void FillStatus(v1::ProbesFileStatus* out) const;

 private:
  DeclaredProbes(std::string path, ProbeManager* manager,
                 const AgentLimits& limits, std::string node,
                 const HostPids* host_pids, Clock* clock);
  // The file as read: parse, validate, reconcile; or keep the last good set
  // and record why not. `wait`: return once the reconcile is done.
  void OnContents(absl::StatusOr<std::string> contents, bool wait);

  const std::string path_;
  ProbeManager* const manager_;
  const AgentLimits limits_;
  const std::string node_;
  const HostPids* const host_pids_;
  Clock* const clock_;

  // Shared with reconciles still queued on the manager's worker, which may
  // finish after this object is gone.
  struct Status {
    absl::Mutex mu;
    absl::Time loaded_at ABSL_GUARDED_BY(mu) = absl::InfinitePast();
    uint32_t declared ABSL_GUARDED_BY(mu) = 0;
    std::string error ABSL_GUARDED_BY(mu);
    absl::Time error_at ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  };
  const std::shared_ptr<Status> status_ = std::make_shared<Status>();
  // Only the watcher's callback (one call at a time) uses it.
  bool first_call_ = true;

  std::unique_ptr<FileWatcher> watcher_;
};

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_DECLARED_PROBES_H_
