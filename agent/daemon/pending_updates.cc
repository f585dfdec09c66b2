#include "agent/daemon/pending_updates.h"

#include <algorithm>

#include "agent/daemon/proto_convert.h"
#include "common/api_convert.h"

namespace tally {
namespace {

template <typename Map>
typename Map::iterator Oldest(Map& pending) {
  return std::min_element(
      pending.begin(), pending.end(),
      [](const auto& a, const auto& b) { return a.second.seq < b.second.seq; });
}

}  // namespace

const PendingUpdates::Incarnation PendingUpdates::kHeartbeatKey = {"", 0};

void PendingUpdates::Offer(const CountUpdate& update) {
  pending_[update.heartbeat ? kHeartbeatKey
                            : Incarnation{update.probe, update.probe_id}] =
      update;
  while (pending_.size() > max_pending_) {
    // A heartbeat never costs a probe its update.
    auto heartbeat = pending_.find(kHeartbeatKey);
    pending_.erase(heartbeat != pending_.end() ? heartbeat : Oldest(pending_));
  }
}

void PendingUpdates::PopInto(const std::string& node, const std::string& epoch,
                             uint32_t top_n, v1::WatchCountsResponse* out) {
  // Oldest first keeps the stream's seqs increasing.
  auto next = Oldest(pending_);
  const CountUpdate u = std::move(next->second);
  pending_.erase(next);

  out->Clear();
  out->set_node(node);
  out->set_seq(u.seq);
  out->set_epoch(epoch);
  ToProto(u.time, out->mutable_time());
  if (u.heartbeat) {
    out->set_heartbeat(true);
    return;
  }
  out->set_probe(u.probe);
  out->set_total(u.counts.total);
  auto it = sent_.find(u.probe);
  if (it != sent_.end() && it->second.first == u.probe_id) {
    out->set_delta(u.counts.total -
                   std::min(u.counts.total, it->second.second));
  } else {
    // New to this stream: what it counted before the stream began is a
    // snapshot (delta 0); an incarnation started since (a new probe, or one
    // restarted under the same name) counted all of it while watched.
    out->set_snapshot(true);
    out->set_delta(u.started_at >= stream_start_ ? u.counts.total : 0);
  }
  size_t n = std::min<size_t>(top_n, u.counts.top_keys.size());
  for (size_t i = 0; i < n; ++i) {
    v1::KeyCount* kc = out->add_top_keys();
    kc->set_key(u.counts.top_keys[i].key);
    kc->set_count(u.counts.top_keys[i].count);
  }
  out->set_dropped_keys(u.counts.dropped_keys);
  out->set_reclaimed(u.counts.reclaimed);
  out->set_reclaimed_keys(u.counts.reclaimed_keys);
  out->set_mechanism(u.mechanism);
  out->set_state(ToProto(u.state));
  out->set_probe_id(u.probe_id);
  for (const UncountedWindow& w : u.uncounted) ToProto(w, out->add_uncounted());
  if (u.state == ProbeState::kRunning) {
    sent_[u.probe] = {u.probe_id, u.counts.total};
  } else {
    sent_.erase(u.probe);
  }
}

}  // namespace tally
