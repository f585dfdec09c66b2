// Merges WatchCounts streams from many agents into per-node rows and a fleet
// total per probe. One callback stream per agent (no thread per agent); a
// failed agent is marked down and reconnected with backoff while the others
// go on; per-agent totals carry across agent restarts, so a fleet total
// never goes backwards because of a reconnect.
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
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/command.h"
#include "tally/v1/agent.grpc.pb.h"
#include "tally/v1/cli_output.pb.h"

namespace tally::cli {

struct WatchOptions {
  std::vector<std::string> probes;  // empty: all
  absl::Duration interval = absl::Seconds(1);
  uint32_t top_n = 0;
  absl::Duration duration = absl::InfiniteDuration();
  // Redraw a table in place (terminal) instead of appending blocks.
  bool live = false;
};

class FleetWatch {
 public:
  FleetWatch(const CommandContext& ctx, WatchOptions options);
  ~FleetWatch();

  // Runs until options.duration passes or `stop` turns true; returns the
  // exit status: 0 when every agent streams at the end, 2 when some do not,
  // 1 when none does.
  int Run(const std::atomic<bool>& stop);

 private:
  class Stream;

  struct Event {
    size_t agent = 0;
    bool ended = false;
    grpc::Status status;
    v1::WatchCountsResponse update;
  };

  // One probe as seen on one agent.
  struct ProbeView {
    std::string epoch;
    uint64_t probe_id = 0;
    uint64_t agent_total = 0;  // the agent's own count, this incarnation
    uint64_t carried = 0;      // totals of earlier incarnations/epochs
    uint64_t last_line_total = 0;
    uint64_t last_tick_total = 0;
    double rate = 0;
    v1::WatchCountsResponse last;
    uint64_t total() const { return carried + agent_total; }
  };

  struct AgentView {
    std::string node;  // from the agent; the target label until it answers
    bool up = false;
    bool down_reported = false;
    std::string error;
    absl::Duration backoff;
    absl::Time retry_at = absl::InfinitePast();
    std::unique_ptr<Stream> stream;
    std::map<std::string, ProbeView> probes;
  };

  struct FleetView {
    uint64_t last_tick_total = 0;
    double rate = 0;
  };

  void Connect(size_t agent);
  void Push(Event event) ABSL_LOCKS_EXCLUDED(mu_);
  void Handle(Event& event, absl::Time now);
  void OnUpdate(size_t agent, const v1::WatchCountsResponse& update);
  void OnEnded(size_t agent, const grpc::Status& status, absl::Time now);
  void Tick(absl::Time now, absl::Duration elapsed);
  void Render(absl::Time now);
  void Emit(const v1::WatchLine& line);
  size_t AgentsUp() const;

  const CommandContext& ctx_;
  const WatchOptions options_;
  v1::WatchCountsRequest request_;
  std::vector<AgentView> agents_;
  std::map<std::string, FleetView> fleet_;
  bool stopping_ = false;

  absl::Mutex mu_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally::cli

#endif  // TALLY_CLIENT_FLEET_WATCH_H_
