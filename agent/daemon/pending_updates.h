// What one WatchCounts stream still has to send: the latest unsent update per
// probe incarnation (counts are cumulative, so replacing an older one loses
// nothing), sent oldest first, each with its delta against what this stream
// last sent of that probe. A heartbeat is coalesced the same way under a key
// of its own, and is the first to go past the bound. Not thread-safe: its
// stream guards it.
#ifndef TALLY_AGENT_DAEMON_PENDING_UPDATES_H_
#define TALLY_AGENT_DAEMON_PENDING_UPDATES_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "agent/daemon/sampler.h"
#include "tally/v1/agent.pb.h"

namespace tally {

class PendingUpdates {
 public:
  // `stream_start`: when the stream began; incarnations started before it
  // open with delta 0 (a snapshot), later ones with their whole total. At
  // most `max_pending` incarnations wait; past it the oldest go (their
  // successors carry the count on).
  explicit PendingUpdates(absl::Time stream_start, size_t max_pending = 1024)
      : stream_start_(stream_start), max_pending_(max_pending) {}

  void Offer(const CountUpdate& update);
  bool empty() const { return pending_.empty(); }
  size_t size() const { return pending_.size(); }
  void Clear() { pending_.clear(); }

  // Removes the oldest update and writes it to `out` as this stream sends
  // it: node, epoch, at most `top_n` keys, snapshot and delta. Not empty().
  void PopInto(const std::string& node, const std::string& epoch,
               uint32_t top_n, v1::WatchCountsResponse* out);

 private:
  using Incarnation = std::pair<std::string, uint64_t>;  // (name, probe_id)

  // Probe names are never empty, so no incarnation has this key.
  static const Incarnation kHeartbeatKey;

  const absl::Time stream_start_;
  const size_t max_pending_;
  std::map<Incarnation, CountUpdate> pending_;
  // Per probe name: incarnation and total of the last update sent.
  std::map<std::string, std::pair<uint64_t, uint64_t>> sent_;
};

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_PENDING_UPDATES_H_
