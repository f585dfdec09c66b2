#include "agent/watch_reactor.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "agent/proto_convert.h"

namespace tally {
namespace {

constexpr size_t kMaxPending = 1024;

}  // namespace

WatchReactor::WatchReactor(std::string node, std::string epoch,
                           uint32_t top_n)
    : node_(std::move(node)),
      epoch_(std::move(epoch)),
      top_n_(top_n) {}

WatchReactor* WatchReactor::Start(Sampler* sampler, std::string node,
                                  std::string epoch, WatchSpec spec) {
  auto* reactor =
      new WatchReactor(std::move(node), std::move(epoch), spec.top_n);
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
    // Counts are cumulative: replacing an unsent update of the same
    // incarnation loses nothing.
    pending_[{update.probe, update.probe_id}] = update;
    // Bounded even if a stalled client watches probes restarted many
    // times: the oldest go first (their successors carry on the count).
    while (pending_.size() > kMaxPending) {
      auto oldest = std::min_element(
          pending_.begin(), pending_.end(), [](const auto& a, const auto& b) {
            return a.second.seq < b.second.seq;
          });
      pending_.erase(oldest);
    }
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

void WatchReactor::Fill(const CountUpdate& u, v1::WatchCountsResponse* out) {
  out->Clear();
  out->set_node(node_);
  out->set_probe(u.probe);
  out->set_seq(u.seq);
  out->set_epoch(epoch_);
  ToProto(u.time, out->mutable_time());
  out->set_total(u.counts.total);
  auto it = sent_.find(u.probe);
  if (it == sent_.end()) {
    out->set_snapshot(true);
    out->set_delta(0);
  } else if (it->second.first != u.probe_id) {
    // A new incarnation counts from zero: all of it is new.
    out->set_snapshot(true);
    out->set_delta(u.counts.total);
  } else {
    out->set_delta(u.counts.total - std::min(u.counts.total, it->second.second));
  }
  size_t n = std::min<size_t>(top_n_, u.counts.top_keys.size());
  for (size_t i = 0; i < n; ++i) {
    v1::KeyCount* kc = out->add_top_keys();
    kc->set_key(u.counts.top_keys[i].key);
    kc->set_count(u.counts.top_keys[i].count);
  }
  out->set_dropped_keys(u.counts.dropped_keys);
  out->set_mechanism(u.mechanism);
  out->set_state(ToProto(u.state));
  out->set_probe_id(u.probe_id);
  if (u.state == ProbeState::kRunning) {
    sent_[u.probe] = {u.probe_id, u.counts.total};
  } else {
    sent_.erase(u.probe);
  }
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
      // Oldest first keeps the stream's seqs increasing.
      auto next = std::min_element(
          pending_.begin(), pending_.end(), [](const auto& a, const auto& b) {
            return a.second.seq < b.second.seq;
          });
      Fill(next->second, &response_);
      pending_.erase(next);
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
    pending_.clear();
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
