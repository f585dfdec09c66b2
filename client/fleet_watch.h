// Merges WatchCounts streams from many agents into per-node rows and a fleet
// total per probe. One callback stream per agent (no thread per agent).
//
// Liveness: agents send an update or a heartbeat every interval, so an
// agent whose stream stays silent for `stale_after` intervals is STALE (most
// likely hung) and not up, and an agent that only sends heartbeats is up.
// A failed agent is marked down and reconnected with backoff while the
// others go on; per-agent totals carry across probe incarnations (a probe
// re-adopted by a restarted agent is the same incarnation), and the last
// known counts of agents that are not live stay in the fleet total (shown
// apart as stale_total), so a fleet total never goes backwards. dns: names
// and @FILEs are re-read every `resolve_every`: agents that appear are
// added, agents that disappear leave (their counts stay).
#ifndef TALLY_CLIENT_FLEET_WATCH_H_
#define TALLY_CLIENT_FLEET_WATCH_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/command.h"
#include "client/probe_count.h"
#include "tally/v1/agent.grpc.pb.h"
#include "tally/v1/cli_output.pb.h"

namespace tally::cli {

struct WatchOptions {
  std::vector<std::string> probes;  // empty: all
  absl::Duration interval = absl::Seconds(1);
  uint32_t top_n = 0;
  // Counted from CommandContext::start, not from when streams are set up.
  absl::Duration duration = absl::InfiniteDuration();
  // Intervals without a message before an agent is STALE.
  int stale_after = 3;
  // How often dns: names and @FILEs are re-read.
  absl::Duration resolve_every = absl::Seconds(30);
  // Redraw a table in place (terminal) instead of appending blocks.
  bool live = false;
};

class FleetWatch {
 public:
  FleetWatch(const CommandContext& ctx, WatchOptions options);
  ~FleetWatch();

  // Runs until options.duration passes or `stop` turns true; returns the
  // exit status: 0 when every agent streams at the end, 2 when some do not
  // (down, stale, never answered), 1 when none does. The summary on stderr
  // gives every failing agent's reason.
  int Run(const std::atomic<bool>& stop);

  // How long an agent may stay silent before it is STALE.
  absl::Duration stale_after() const { return stale_after_; }

 private:
  class Stream;

  struct Event {
    enum Kind { kUpdate, kEnded, kTargets };
    Kind kind = kUpdate;
    uint64_t agent = 0;
    Stream* stream = nullptr;  // kEnded: the stream that ended
    grpc::Status status;
    v1::WatchCountsResponse update;
    absl::StatusOr<std::vector<AgentTarget>> targets;
  };

  // One probe as seen on one agent.
  struct ProbeView {
    ProbeCount count;
    double rate = 0;
    v1::WatchCountsResponse last;
    uint64_t total() const { return count.total(); }
  };

  enum class AgentState {
    kWaiting,     // not connected: file descriptors, or a name to resolve
    kConnecting,  // a stream is being set up; nothing heard on it yet
    kUp,          // heard within stale_after
    kStale,       // its stream is open, but silent for stale_after
    kDown,        // its stream ended; a retry is due at retry_at
  };

  struct AgentView {
    AgentTarget target;
    std::string node;  // from the agent; the target label until it answers
    AgentState state = AgentState::kWaiting;
    std::string error;      // why it is down (or waiting)
    bool reported = false;  // AGENT_DOWN/AGENT_STALE said for this outage
    // AGENT_STALE said while connecting (nothing heard yet): it counts as
    // stale, as that line says, until it answers or its stream ends.
    bool stale_connecting = false;
    absl::Time attempt_started;
    absl::Time last_heard = absl::InfinitePast();
    absl::Duration backoff;
    absl::Time retry_at = absl::InfinitePast();
    std::unique_ptr<Stream> stream;
    std::map<std::string, ProbeView> probes;
  };

  struct FleetView {
    uint64_t last_tick_total = 0;
    double rate = 0;
  };

  void Push(Event event) ABSL_LOCKS_EXCLUDED(mu_);
  void AddAgent(const AgentTarget& target);
  void RemoveAgent(uint64_t id);
  void Connect(uint64_t id, AgentView& agent, absl::Time now);
  void ConnectWaiting(absl::Time now);
  void Handle(Event& event, absl::Time now);
  void OnUpdate(uint64_t id, AgentView& agent,
                const v1::WatchCountsResponse& update, absl::Time now);
  void OnEnded(uint64_t id, Stream* stream, const grpc::Status& status,
               absl::Time now);
  void OnTargets(const absl::StatusOr<std::vector<AgentTarget>>& targets,
                 absl::Time now);
  void CheckLiveness(absl::Time now);
  void Tick(absl::Time now, absl::Duration elapsed);
  void Render(absl::Time now);
  void Emit(const v1::WatchLine& line);
  v1::WatchLine AgentLine(v1::WatchLine::Kind kind,
                          const AgentView& agent) const;
  // Why an agent is not up, never empty.
  std::string Reason(const AgentView& agent, absl::Time now) const;
  size_t Count(AgentState state) const;
  // Agents an AGENT_STALE line stands for now.
  size_t CountStale() const;
  size_t Streaming() const;

  const CommandContext& ctx_;
  const WatchOptions options_;
  const absl::Duration stale_after_;
  v1::WatchCountsRequest request_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, AgentView> agents_;  // by id: the order they came in
  std::map<std::string, uint64_t> by_key_;
  // Streams of agents that left, until their end arrives.
  std::map<Stream*, std::unique_ptr<Stream>> leaving_;
  // Counts of agents that left, per probe: they stay in fleet totals.
  std::map<std::string, uint64_t> departed_;
  std::map<std::string, FleetView> fleet_;
  size_t connected_ = 0;  // agents holding a connection (file descriptors)
  size_t updates_since_tick_ = 0;  // counted, not yet in a FLEET line
  bool stopping_ = false;

  absl::Mutex mu_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally::cli

#endif  // TALLY_CLIENT_FLEET_WATCH_H_
