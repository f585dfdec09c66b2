#include "client/probe_count.h"

#include <algorithm>

namespace tally::cli {

uint64_t ProbeCount::Update(uint64_t probe_id, uint64_t agent_total) {
  if (probe_id_ != 0 && probe_id_ != probe_id) {
    // A new incarnation (the probe started anew): its count began again at
    // zero, so keep what was counted before on top. A probe an agent
    // re-adopted after a restart keeps its probe_id (only the epoch
    // changes) and its count: nothing to carry, or it would count twice.
    carried_ += agent_total_;
    agent_total_ = 0;
  }
  probe_id_ = probe_id;
  agent_total_ = std::max(agent_total_, agent_total);
  if (!based_) {
    based_ = true;
    last_update_total_ = total();
    return 0;
  }
  const uint64_t delta = total() - std::min(total(), last_update_total_);
  last_update_total_ = total();
  unticked_ += delta;
  return delta;
}

void ProbeCount::Rebase() {
  based_ = false;
  rate_known_ = false;
}

uint64_t ProbeCount::Tick(bool live) {
  // Increases that came before an agent went quiet still happened in this
  // interval; after it, the next update starts afresh.
  const uint64_t delta = unticked_;
  unticked_ = 0;
  rate_known_ = live && based_;
  if (!live) based_ = false;
  return delta;
}

}  // namespace tally::cli
