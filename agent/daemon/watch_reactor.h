// One WatchCounts stream: a Watcher that keeps only the latest update per
// probe while a write is in flight (PendingUpdates), so a slow client costs
// at most one pending update per probe, never a queue.
#ifndef TALLY_AGENT_DAEMON_WATCH_REACTOR_H_
#define TALLY_AGENT_DAEMON_WATCH_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/daemon/pending_updates.h"
#include "agent/daemon/sampler.h"
#include "tally/v1/agent.pb.h"

namespace tally {

class WatchReactor : public grpc::ServerWriteReactor<v1::WatchCountsResponse>,
                     public Watcher {
 public:
  // Registers with `sampler`, which deletes the reactor after OnDone; or
  // finishes at once with the sampler's error and deletes itself.
  // `now`: when the stream starts (see PendingUpdates).
  static WatchReactor* Start(Sampler* sampler, std::string node,
                             std::string epoch, WatchSpec spec, absl::Time now);

  void Offer(const CountUpdate& update) override ABSL_LOCKS_EXCLUDED(mu_);
  void Close() override ABSL_LOCKS_EXCLUDED(mu_);
  bool Done() const override { return done_.load(); }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone() override;

 private:
  WatchReactor(std::string node, std::string epoch, uint32_t top_n,
               absl::Time now);

  // Starts the next write, or finishes a closed, drained stream.
  void MaybeWrite() ABSL_LOCKS_EXCLUDED(mu_);
  void FinishOnce(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string node_;
  const std::string epoch_;
  const uint32_t top_n_;
  bool registered_ = false;
  std::atomic<bool> done_{false};

  absl::Mutex mu_;
  PendingUpdates pending_ ABSL_GUARDED_BY(mu_);
  v1::WatchCountsResponse response_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // Finish() waits for the write in flight: StartWrite may already be
  // decided (writing_) but not yet called.
  std::optional<grpc::Status> deferred_finish_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_WATCH_REACTOR_H_
