// One probe's count as one agent reports it, as a watch keeps it: exact
// across the agent's restarts and the probe's incarnations, and how much of
// it is new since the last look. What the agent had counted before this
// watch saw it (or saw it again, after it was down or stale) is part of the
// total but never an increase: otherwise a first frame or an agent joining
// shows its whole lifetime as one interval's rate.
#ifndef TALLY_CLIENT_PROBE_COUNT_H_
#define TALLY_CLIENT_PROBE_COUNT_H_

#include <cstdint>

namespace tally::cli {

class ProbeCount {
 public:
  // Takes an update's cumulative count of incarnation `probe_id`; returns
  // the increase since the previous update (0 for the first one after
  // construction or Rebase).
  uint64_t Update(uint64_t probe_id, uint64_t agent_total);

  // The agent stopped streaming (or is starting to again): its next update
  // is a new starting point, not an increase.
  void Rebase();

  // The sum of Update's increases since the previous Tick. rate_known():
  // whether the agent is `live` and had a starting point, so that the
  // increase measured something. Not live: the next update starts afresh.
  uint64_t Tick(bool live);
  bool rate_known() const { return rate_known_; }

  // Every incarnation's count, as seen by this watch.
  uint64_t total() const { return carried_ + agent_total_; }
  // The current incarnation's count, as the agent reports it.
  uint64_t agent_total() const { return agent_total_; }

 private:
  uint64_t probe_id_ = 0;
  uint64_t agent_total_ = 0;  // this incarnation
  uint64_t carried_ = 0;      // earlier incarnations
  bool based_ = false;        // an update since construction or Rebase
  bool rate_known_ = false;
  uint64_t last_update_total_ = 0;
  uint64_t unticked_ = 0;  // increases since the last Tick
};

}  // namespace tally::cli

#endif  // TALLY_CLIENT_PROBE_COUNT_H_
