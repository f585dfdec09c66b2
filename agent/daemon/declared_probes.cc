#include "agent/daemon/declared_probes.h"

#include <memory>
#include <utility>

#include "absl/synchronization/notification.h"
#include "agent/daemon/probes_file.h"
#include "common/api_convert.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace tally {

DeclaredProbes::DeclaredProbes(std::string path, ProbeManager* manager,
                               const AgentLimits& limits, std::string node,
                               const HostPids* host_pids, Clock* clock)
    : path_(std::move(path)),
      manager_(manager),
      limits_(limits),
      node_(std::move(node)),
      host_pids_(host_pids),
      clock_(clock) {}

absl::StatusOr<std::unique_ptr<DeclaredProbes>> DeclaredProbes::Start(
    std::string path, ProbeManager* manager, const AgentLimits& limits,
    std::string node, const HostPids* host_pids, Clock* clock) {
  std::unique_ptr<DeclaredProbes> d(new DeclaredProbes(
      std::move(path), manager, limits, std::move(node), host_pids, clock));
  // What an earlier agent started from this file is the last good set
  // until the file applies (it may not parse now).
  {
    const uint32_t adopted = manager->ClaimDeclared(d->path_);
    absl::MutexLock lock(&d->status_->mu);
    d->status_->declared = adopted;
  }
  DeclaredProbes* self = d.get();
  // Calls come one at a time: the first inside FileWatcher::Start (so the
  // agent serves only once it has converged), the rest on its thread.
  ASSIGN_OR_RETURN(d->watcher_,
                   FileWatcher::Start(d->path_, [self](auto contents) {
                     const bool first = std::exchange(self->first_call_, false);
                     self->OnContents(std::move(contents), first);
                   }));
  return d;
}

DeclaredProbes::~DeclaredProbes() { watcher_.reset(); }

void DeclaredProbes::OnContents(absl::StatusOr<std::string> contents,
                                bool wait) {
  if (wait && absl::IsNotFound(contents.status())) {
    // No file at start: nothing declared yet (a systemd host without
    // /etc/tally/probes.yaml); it is picked up once it appears.
    LOG(INFO) << "no probes file at " << path_ << " yet; watching for it";
    return;
  }
  absl::StatusOr<std::vector<DeclaredConfig>> declared =
      contents.ok()
          ? ParseProbesFile(*contents, path_, limits_, node_, *host_pids_)
          : absl::StatusOr<std::vector<DeclaredConfig>>(contents.status());
  if (!declared.ok()) {
    LOG(ERROR) << "probes file not applied, the last good set keeps "
                  "running: "
               << declared.status().message();
    absl::MutexLock lock(&status_->mu);
    status_->error = std::string(declared.status().message());
    status_->error_at = clock_->Now();
    return;
  }
  const uint32_t count = static_cast<uint32_t>(declared->size());
  auto done = std::make_shared<absl::Notification>();
  manager_->Reconcile(
      path_, *std::move(declared),
      [status = status_, clock = clock_, count, done](ReconcileResult) {
        {
          absl::MutexLock lock(&status->mu);
          status->loaded_at = clock->Now();
          status->declared = count;
          status->error.clear();
          status->error_at = absl::InfinitePast();
        }
        done->Notify();
      });
  if (wait) done->WaitForNotification();
}

void DeclaredProbes::FillStatus(v1::ProbesFileStatus* out) const {
  absl::MutexLock lock(&status_->mu);
  out->set_path(path_);
  if (status_->loaded_at != absl::InfinitePast()) {
    ToProto(status_->loaded_at, out->mutable_loaded_at());
  }
  out->set_declared(status_->declared);
  out->set_error(status_->error);
  if (status_->error_at != absl::InfinitePast()) {
    ToProto(status_->error_at, out->mutable_error_at());
  }
}

}  // namespace tally
