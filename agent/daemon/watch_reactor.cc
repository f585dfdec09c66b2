#include "agent/daemon/watch_reactor.h"

#include <optional>
#include <utility>

#include "agent/daemon/proto_convert.h"

namespace tally {

WatchReactor::WatchReactor(std::string node, std::string epoch, uint32_t top_n,
                           absl::Time now)
    : node_(std::move(node)),
      epoch_(std::move(epoch)),
      top_n_(top_n),
      pending_(now) {}

WatchReactor* WatchReactor::Start(Sampler* sampler, std::string node,
                                  std::string epoch, WatchSpec spec,
                                  absl::Time now) {
  auto* reactor =
      new WatchReactor(std::move(node), std::move(epoch), spec.top_n, now);
  absl::Status added = sampler->AddWatcher(reactor, std::move(spec));
  if (!added.ok()) {
    reactor->FinishOnce(ToGrpcStatus(added));
    return reactor;
  }
  reactor->registered_ = true;
  return reactor;
}

void WatchReactor::Offer(const CountUpdate& update) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    pending_.Offer(update);
  }
  MaybeWrite();
}

void WatchReactor::Close() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  MaybeWrite();
}

void WatchReactor::MaybeWrite() {
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || writing_) return;
    if (pending_.empty()) {
      if (!closing_) return;
      finished_ = true;
      finish = true;
    } else {
      pending_.PopInto(node_, epoch_, top_n_, &response_);
      writing_ = true;
    }
  }
  // Outside the lock: gRPC may run reactions inline.
  if (finish) {
    Finish(grpc::Status::OK);
  } else {
    StartWrite(&response_);
  }
}

void WatchReactor::OnWriteDone(bool ok) {
  std::optional<grpc::Status> deferred;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    deferred.swap(deferred_finish_);
  }
  if (deferred) {
    Finish(*std::move(deferred));
    return;
  }
  if (!ok) {
    FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "the stream broke while writing"));
    return;
  }
  MaybeWrite();
}

void WatchReactor::OnCancel() {
  FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled"));
}

void WatchReactor::FinishOnce(grpc::Status status) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    pending_.Clear();
    if (writing_) {
      // OnWriteDone finishes: StartWrite may not even have been called yet.
      deferred_finish_ = std::move(status);
      return;
    }
  }
  Finish(std::move(status));
}

void WatchReactor::OnDone() {
  // Registered reactors are deleted by the sampler, under its lock, so it
  // never calls one that is gone.
  if (!registered_) {
    delete this;
    return;
  }
  done_.store(true);
}

}  // namespace tally
