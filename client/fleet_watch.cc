#include "client/fleet_watch.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/output.h"
#include "client/probe_format.h"
#include "common/api_convert.h"

namespace tally::cli {
namespace {

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(250);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
// How often the loop wakes with nothing to do: bounds how late a stop
// request (SIGINT) is noticed.
constexpr absl::Duration kPoll = absl::Milliseconds(50);

}  // namespace

// One WatchCounts call to one agent. Owned by the main loop, which deletes it
// after handling its `ended` event (pushed as the last act of OnDone).
class FleetWatch::Stream
    : public grpc::ClientReadReactor<v1::WatchCountsResponse> {
 public:
  Stream(FleetWatch* owner, size_t agent,
         std::shared_ptr<grpc::Channel> channel,
         const v1::WatchCountsRequest& request)
      : owner_(owner), agent_(agent), stub_(v1::Agent::NewStub(channel)) {
    stub_->async()->WatchCounts(&context_, &request, this);
    StartRead(&response_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows with the status
    Event e;
    e.agent = agent_;
    e.update = response_;
    owner_->Push(std::move(e));
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    Event e;
    e.agent = agent_;
    e.ended = true;
    e.status = status;
    owner_->Push(std::move(e));  // last: the main loop may delete us now
  }

 private:
  FleetWatch* const owner_;
  const size_t agent_;
  std::unique_ptr<v1::Agent::Stub> stub_;
  grpc::ClientContext context_;
  v1::WatchCountsResponse response_;
};

FleetWatch::FleetWatch(const CommandContext& ctx, WatchOptions options)
    : ctx_(ctx), options_(std::move(options)) {
  for (const std::string& p : options_.probes) request_.add_probes(p);
  ToProto(options_.interval, request_.mutable_interval());
  request_.set_top_n(options_.top_n);
  agents_.resize(ctx_.targets.size());
  for (size_t i = 0; i < agents_.size(); ++i) {
    agents_[i].node = ctx_.targets[i].label;
    agents_[i].backoff = kFirstBackoff;
    agents_[i].error = ctx_.targets[i].error;
  }
}

FleetWatch::~FleetWatch() = default;

void FleetWatch::Push(Event event) {
  absl::MutexLock lock(&mu_);
  events_.push_back(std::move(event));
}

void FleetWatch::Connect(size_t agent) {
  const AgentTarget& target = ctx_.targets[agent];
  // Until the stream ends (or for good, if the name did not resolve).
  agents_[agent].retry_at = absl::InfiniteFuture();
  if (!target.error.empty()) return;
  agents_[agent].stream = std::make_unique<Stream>(
      this, agent, ctx_.channels.Channel(target), request_);
}

void FleetWatch::Emit(const v1::WatchLine& line) {
  if (ctx_.output != OutputFormat::kJson) return;
  std::fprintf(ctx_.out, "%s\n", JsonLine(line).c_str());
}

size_t FleetWatch::AgentsUp() const {
  return std::count_if(agents_.begin(), agents_.end(),
                       [](const AgentView& a) { return a.up; });
}

void FleetWatch::OnUpdate(size_t i, const v1::WatchCountsResponse& u) {
  AgentView& agent = agents_[i];
  agent.node = u.node();
  agent.backoff = kFirstBackoff;
  if (!agent.up) {
    agent.up = true;
    agent.down_reported = false;
    agent.error.clear();
    v1::WatchLine line;
    line.set_kind(v1::WatchLine::AGENT_UP);
    line.set_agent(ctx_.targets[i].label);
    line.set_node(agent.node);
    line.set_epoch(u.epoch());
    Emit(line);
  }
  ProbeView& view = agent.probes[u.probe()];
  const bool known = view.probe_id != 0;
  if (known && (view.epoch != u.epoch() || view.probe_id != u.probe_id())) {
    // The agent restarted or the probe was started anew: its count began
    // again at zero, so keep what was counted before on top.
    view.carried += view.agent_total;
    view.agent_total = 0;
  }
  view.epoch = u.epoch();
  view.probe_id = u.probe_id();
  view.agent_total = std::max(view.agent_total, u.total());
  view.last = u;

  v1::WatchLine line;
  line.set_kind(v1::WatchLine::UPDATE);
  line.set_agent(ctx_.targets[i].label);
  line.set_node(agent.node);
  line.set_probe(u.probe());
  line.set_seq(u.seq());
  line.set_epoch(u.epoch());
  *line.mutable_time() = u.time();
  line.set_total(view.total());
  line.set_delta(view.total() - std::min(view.total(), view.last_line_total));
  line.set_state(u.state());
  *line.mutable_top_keys() = u.top_keys();
  line.set_dropped_keys(u.dropped_keys());
  line.set_reclaimed(u.reclaimed());
  line.set_reclaimed_keys(u.reclaimed_keys());
  line.set_mechanism(u.mechanism());
  line.set_agent_total(u.total());
  view.last_line_total = view.total();
  Emit(line);
}

void FleetWatch::OnEnded(size_t i, const grpc::Status& status, absl::Time now) {
  AgentView& agent = agents_[i];
  agent.stream.reset();
  if (stopping_) return;
  agent.up = false;
  agent.error = status.ok() ? "UNAVAILABLE: the agent ended the stream "
                              "(shutting down)"
                            : DescribeStatus(status);
  // A request the agent calls invalid stays invalid: retrying cannot help.
  // Everything else (down, restarting, probe not started yet) may heal.
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    agent.retry_at = absl::InfiniteFuture();
  } else {
    agent.retry_at = now + agent.backoff;
    agent.backoff = std::min(agent.backoff * 2, kMaxBackoff);
  }
  // Report a failure once per outage, not once per retry.
  if (!agent.down_reported) {
    agent.down_reported = true;
    v1::WatchLine line;
    line.set_kind(v1::WatchLine::AGENT_DOWN);
    line.set_agent(ctx_.targets[i].label);
    line.set_node(agent.node);
    line.set_error(agent.error);
    Emit(line);
  }
}

void FleetWatch::Handle(Event& event, absl::Time now) {
  if (event.ended) {
    OnEnded(event.agent, event.status, now);
  } else if (!stopping_) {
    OnUpdate(event.agent, event.update);
  }
}

void FleetWatch::Tick(absl::Time now, absl::Duration elapsed) {
  const double seconds = std::max(1e-3, absl::ToDoubleSeconds(elapsed));
  std::map<std::string, uint64_t> totals;
  for (AgentView& agent : agents_) {
    for (auto& [name, view] : agent.probes) {
      view.rate =
          (view.total() - std::min(view.total(), view.last_tick_total)) /
          seconds;
      view.last_tick_total = view.total();
      totals[name] += view.total();
    }
  }
  const uint32_t up = static_cast<uint32_t>(AgentsUp());
  for (const auto& [name, total] : totals) {
    FleetView& fleet = fleet_[name];
    uint64_t delta = total - std::min(total, fleet.last_tick_total);
    fleet.rate = delta / seconds;
    fleet.last_tick_total = total;
    v1::WatchLine line;
    line.set_kind(v1::WatchLine::FLEET);
    line.set_probe(name);
    ToProto(now, line.mutable_time());
    line.set_total(total);
    line.set_delta(delta);
    line.set_rate(fleet.rate);
    line.set_agents_up(up);
    line.set_agents(static_cast<uint32_t>(agents_.size()));
    Emit(line);
  }
  if (ctx_.output == OutputFormat::kJson) {
    std::fflush(ctx_.out);
  } else {
    Render(now);
  }
}

void FleetWatch::Render(absl::Time now) {
  Table table({"PROBE", "NODE", "STATE", "TOTAL", "RATE/s", "VIA", "TOP"});
  std::set<std::string> names;
  for (const AgentView& agent : agents_) {
    for (const auto& [name, view] : agent.probes) names.insert(name);
  }
  for (const std::string& name : names) {
    for (const AgentView& agent : agents_) {
      auto it = agent.probes.find(name);
      if (it == agent.probes.end()) continue;
      const ProbeView& v = it->second;
      std::vector<std::string> top;
      for (const auto& kc : v.last.top_keys()) {
        top.push_back(absl::StrCat(kc.key(), "=", kc.count()));
      }
      table.AddRow({name, agent.node,
                    agent.up ? StateName(v.last.state()) : "DOWN",
                    absl::StrCat(v.total()),
                    agent.up ? absl::StrFormat("%.1f", v.rate) : "-",
                    v.last.mechanism(), absl::StrJoin(top, " ")});
    }
    const FleetView& fleet = fleet_[name];
    table.AddRow({name, "FLEET", "", absl::StrCat(fleet.last_tick_total),
                  absl::StrFormat("%.1f", fleet.rate), "", ""});
  }
  std::string down;
  for (const AgentView& agent : agents_) {
    if (!agent.up) {
      absl::StrAppend(&down, "  down: ", agent.node, ": ",
                      agent.error.empty() ? "connecting" : agent.error, "\n");
    }
  }
  std::string text = absl::StrFormat(
      "tally watch  %d/%d agents up  every %s  %s\n\n%s%s", AgentsUp(),
      agents_.size(), absl::FormatDuration(options_.interval),
      absl::FormatTime("%H:%M:%S", now, absl::LocalTimeZone()),
      names.empty() ? "(no probes yet)\n" : table.Render(), down);
  // A terminal gets the table redrawn in place; anything else gets blocks.
  std::fprintf(ctx_.out, "%s%s\n", options_.live ? "\033[H\033[2J" : "",
               text.c_str());
  std::fflush(ctx_.out);
}

int FleetWatch::Run(const std::atomic<bool>& stop) {
  for (size_t i = 0; i < agents_.size(); ++i) Connect(i);
  absl::Time last_tick = absl::Now();
  absl::Time next_tick = last_tick + options_.interval;
  const absl::Time end = options_.duration == absl::InfiniteDuration()
                             ? absl::InfiniteFuture()
                             : last_tick + options_.duration;
  std::deque<Event> batch;
  while (true) {
    absl::Time wake = std::min({next_tick, end, absl::Now() + kPoll});
    for (const AgentView& a : agents_) wake = std::min(wake, a.retry_at);
    {
      absl::MutexLock lock(&mu_);
      auto has_events = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return !events_.empty();
      };
      mu_.AwaitWithDeadline(absl::Condition(&has_events), wake);
      batch.swap(events_);
    }
    absl::Time now = absl::Now();
    for (Event& e : batch) Handle(e, now);
    batch.clear();
    for (size_t i = 0; i < agents_.size(); ++i) {
      if (!agents_[i].stream && agents_[i].retry_at <= now) Connect(i);
    }
    if (now >= next_tick) {
      Tick(now, now - last_tick);
      last_tick = now;
      next_tick = std::max(next_tick + options_.interval, now);
    }
    if (now >= end || stop.load()) break;
    // Nothing left that could ever stream: say so instead of waiting.
    if (std::all_of(agents_.begin(), agents_.end(), [](const AgentView& a) {
          return !a.stream && a.retry_at == absl::InfiniteFuture();
        })) {
      break;
    }
  }

  // Cancel what still streams and wait for every stream to end.
  stopping_ = true;
  for (AgentView& a : agents_) {
    if (a.stream) a.stream->Cancel();
  }
  auto streaming = [this] {
    return std::any_of(agents_.begin(), agents_.end(),
                       [](const AgentView& a) { return a.stream != nullptr; });
  };
  while (streaming()) {
    {
      absl::MutexLock lock(&mu_);
      auto has_events = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return !events_.empty();
      };
      mu_.Await(absl::Condition(&has_events));
      batch.swap(events_);
    }
    for (Event& e : batch) Handle(e, absl::Now());
    batch.clear();
  }

  std::vector<AgentOutcome> outcomes;
  for (size_t i = 0; i < agents_.size(); ++i) {
    outcomes.push_back(
        AgentOutcome{agents_[i].up, agents_[i].node, agents_[i].error});
  }
  std::fprintf(ctx_.err, "%s\n", Summary(outcomes).c_str());
  return ExitCode(outcomes);
}

}  // namespace tally::cli
