#include "client/fleet_watch.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/outcome.h"
#include "client/output.h"
#include "client/probe_format.h"
#include "client/target_refresh.h"
#include "common/api_convert.h"

namespace tally::cli {
namespace {

// Retries of a failed agent: quick, since a refused connection costs
// nothing and an agent that restarts should show up again within a second
// or so of being ready.
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(250);
constexpr absl::Duration kMaxBackoff = absl::Seconds(1);
// How often the loop looks over every agent (retries due, silences,
// whether anything could still stream): bounds how late a stop request
// (SIGINT), a due retry or a silent agent is noticed.
constexpr absl::Duration kPoll = absl::Milliseconds(50);
// Updates arrive from every agent each interval; taking them in batches at
// most this often keeps thousands of agents from waking the loop thousands
// of times a second.
constexpr absl::Duration kBatch = absl::Milliseconds(20);
// Silence shorter than this is never called stale, however short the
// interval: scheduling hiccups are not hangs.
constexpr absl::Duration kMinStale = absl::Seconds(1);
// Not-up lines under the table: the first few kinds of failure.
constexpr size_t kGroupsShown = 5;

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.1fs", absl::ToDoubleSeconds(d));
}

}  // namespace

// One WatchCounts call to one agent, started once its connection is ready.
// Owned by the main loop, which deletes it after handling its kEnded event
// (pushed as its last act, exactly once: from OnDone, or from OnReady when
// the call never started).
class FleetWatch::Stream
    : public grpc::ClientReadReactor<v1::WatchCountsResponse> {
 public:
  Stream(FleetWatch* owner, uint64_t agent, AgentConnection connection,
         const v1::WatchCountsRequest& request)
      : owner_(owner),
        agent_(agent),
        connection_(std::move(connection)),
        request_(request) {
    if (connection_.channel != nullptr) {
      stub_ = v1::Agent::NewStub(connection_.channel);
    }
  }

  void Begin() {
    connection_.WhenReady([this](bool up) { OnReady(up); });
  }

  void Cancel() ABSL_LOCKS_EXCLUDED(mu_) {
    bool started;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      started = started_;
    }
    if (started) {
      context_.TryCancel();
      return;
    }
    // Not started, and now never will: dropping the channel closes the TLS
    // tunnel, which then settles (OnReady(false)) at once.
    stub_.reset();
    connection_.channel.reset();
  }

  const AgentConnection& connection() const { return connection_; }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows with the status
    Event e;
    e.kind = Event::kUpdate;
    e.agent = agent_;
    e.update = response_;
    owner_->Push(std::move(e));
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override { PushEnded(status); }

 private:
  void OnReady(bool up) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) up = false;
      started_ = up;
    }
    if (!up) {
      PushEnded(grpc::Status(grpc::StatusCode::UNAVAILABLE, "not connected"));
      return;
    }
    stub_->async()->WatchCounts(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }

  void PushEnded(const grpc::Status& status) {
    Event e;
    e.kind = Event::kEnded;
    e.agent = agent_;
    e.stream = this;
    e.status = status;
    owner_->Push(std::move(e));  // last: the main loop may delete us now
  }

  FleetWatch* const owner_;
  const uint64_t agent_;
  AgentConnection connection_;
  const v1::WatchCountsRequest request_;
  std::unique_ptr<v1::Agent::Stub> stub_;
  grpc::ClientContext context_;
  v1::WatchCountsResponse response_;
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

FleetWatch::FleetWatch(const CommandContext& ctx, WatchOptions options)
    : ctx_(ctx),
      options_(std::move(options)),
      stale_after_(std::max(
          kMinStale, options_.interval * std::max(1, options_.stale_after))) {
  for (const std::string& p : options_.probes) request_.add_probes(p);
  ToProto(options_.interval, request_.mutable_interval());
  request_.set_top_n(options_.top_n);
  for (const AgentTarget& t : ctx_.targets) AddAgent(t);
}

FleetWatch::~FleetWatch() = default;

void FleetWatch::Push(Event event) {
  absl::MutexLock lock(&mu_);
  events_.push_back(std::move(event));
}

void FleetWatch::AddAgent(const AgentTarget& target) {
  const std::string key = TargetKey(target);
  if (by_key_.count(key) > 0) return;  // listed twice: one agent
  const uint64_t id = next_id_++;
  by_key_[key] = id;
  AgentView& agent = agents_[id];
  agent.target = target;
  agent.node = target.label;
  agent.backoff = kFirstBackoff;
  agent.error = target.error;
}

void FleetWatch::RemoveAgent(uint64_t id) {
  auto it = agents_.find(id);
  if (it == agents_.end()) return;
  AgentView& agent = it->second;
  // An entry that never resolved did not leave: it became its addresses.
  if (agent.target.error.empty()) {
    Emit(AgentLine(v1::WatchLine::AGENT_LEFT, agent));
  }
  // Its counts stay in the fleet total.
  for (const auto& [name, view] : agent.probes) departed_[name] += view.total();
  if (agent.stream != nullptr) {
    agent.stream->Cancel();
    Stream* raw = agent.stream.get();
    leaving_[raw] = std::move(agent.stream);
  }
  by_key_.erase(TargetKey(agent.target));
  agents_.erase(it);
}

void FleetWatch::Connect(uint64_t id, AgentView& agent, absl::Time now) {
  agent.state = AgentState::kConnecting;
  agent.attempt_started = now;
  agent.retry_at = absl::InfiniteFuture();  // until the stream ends
  ++connected_;
  agent.stream = std::make_unique<Stream>(
      this, id, ctx_.channels.Connect(agent.target, ctx_.fanout.timeout),
      request_);
  agent.stream->Begin();
}

void FleetWatch::ConnectWaiting(absl::Time now) {
  for (auto& [id, agent] : agents_) {
    if (agent.stream != nullptr || !agent.target.error.empty()) continue;
    const bool due =
        agent.state == AgentState::kWaiting ||
        (agent.state == AgentState::kDown && agent.retry_at <= now);
    if (!due) continue;
    if (connected_ >= ctx_.max_connections) {
      // Not connected for want of file descriptors (warned at start).
      if (agent.state == AgentState::kWaiting) {
        agent.error = absl::StrCat(
            "RESOURCE_EXHAUSTED: not connected: the file descriptor limit "
            "allows ",
            ctx_.max_connections, " agents at once (see the warning at start)");
      }
      continue;
    }
    Connect(id, agent, now);
  }
}

void FleetWatch::Emit(const v1::WatchLine& line) {
  if (ctx_.output != OutputFormat::kJson) return;
  std::fprintf(ctx_.out, "%s\n", JsonLine(line).c_str());
}

v1::WatchLine FleetWatch::AgentLine(v1::WatchLine::Kind kind,
                                    const AgentView& agent) const {
  v1::WatchLine line;
  line.set_kind(kind);
  line.set_agent(agent.target.label);
  line.set_node(agent.node);
  line.set_error(agent.error);
  return line;
}

size_t FleetWatch::Count(AgentState state) const {
  return std::count_if(agents_.begin(), agents_.end(), [state](const auto& a) {
    return a.second.state == state;
  });
}

size_t FleetWatch::CountStale() const {
  return std::count_if(agents_.begin(), agents_.end(), [](const auto& a) {
    return a.second.state == AgentState::kStale || a.second.stale_connecting;
  });
}

void FleetWatch::OnUpdate(uint64_t /*id*/, AgentView& agent,
                          const v1::WatchCountsResponse& u, absl::Time now) {
  agent.node = u.node();
  agent.last_heard = now;
  agent.backoff = kFirstBackoff;
  if (agent.state != AgentState::kUp) {
    // What it counted while we did not hear it is not this interval's.
    for (auto& [name, view] : agent.probes) view.count.Rebase();
    agent.state = AgentState::kUp;
    agent.reported = false;
    agent.stale_connecting = false;
    agent.error.clear();
    v1::WatchLine line = AgentLine(v1::WatchLine::AGENT_UP, agent);
    line.set_epoch(u.epoch());
    Emit(line);
  }
  if (u.heartbeat()) return;  // alive; nothing to count
  ++updates_since_tick_;

  ProbeView& view = agent.probes[u.probe()];
  const uint64_t delta = view.count.Update(u.probe_id(), u.total());
  view.last = u;

  v1::WatchLine line;
  line.set_kind(v1::WatchLine::UPDATE);
  line.set_agent(agent.target.label);
  line.set_node(agent.node);
  line.set_probe(u.probe());
  line.set_seq(u.seq());
  line.set_epoch(u.epoch());
  *line.mutable_time() = u.time();
  line.set_total(view.total());
  line.set_delta(delta);
  line.set_state(u.state());
  *line.mutable_top_keys() = u.top_keys();
  line.set_dropped_keys(u.dropped_keys());
  line.set_reclaimed(u.reclaimed());
  line.set_reclaimed_keys(u.reclaimed_keys());
  line.set_mechanism(u.mechanism());
  line.set_agent_total(u.total());
  Emit(line);
}

void FleetWatch::OnEnded(uint64_t id, Stream* stream,
                         const grpc::Status& status, absl::Time now) {
  auto it = agents_.find(id);
  if (it == agents_.end() || it->second.stream.get() != stream) return;
  AgentView& agent = it->second;
  std::string error =
      status.ok() ? "UNAVAILABLE: the agent ended the stream (shutting down)"
                  : ctx_.channels.Describe(status, agent.stream->connection());
  agent.stream.reset();
  agent.stale_connecting = false;
  if (stopping_) return;
  agent.state = AgentState::kDown;
  agent.error = std::move(error);
  // A request the agent calls invalid stays invalid: retrying cannot help.
  // Everything else (down, restarting, probe not started yet) may heal.
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    agent.retry_at = absl::InfiniteFuture();
  } else {
    agent.retry_at = now + agent.backoff;
    agent.backoff = std::min(agent.backoff * 2, kMaxBackoff);
  }
  // Report a failure once per outage, not once per retry.
  if (!agent.reported) {
    agent.reported = true;
    Emit(AgentLine(v1::WatchLine::AGENT_DOWN, agent));
  }
}

void FleetWatch::OnTargets(
    const absl::StatusOr<std::vector<AgentTarget>>& targets, absl::Time now) {
  if (!targets.ok()) {
    // A file being rewritten, say: keep the agents we have.
    std::fprintf(ctx_.err,
                 "tallyctl watch: re-reading --agents: %s (keeping the last "
                 "list)\n",
                 std::string(targets.status().message()).c_str());
    return;
  }
  std::set<std::string> keys;
  for (const AgentTarget& t : *targets) {
    keys.insert(TargetKey(t));
    AddAgent(t);
  }
  std::vector<uint64_t> gone;
  for (const auto& [key, id] : by_key_) {
    if (keys.count(key) == 0) gone.push_back(id);
  }
  for (uint64_t id : gone) RemoveAgent(id);
  ConnectWaiting(now);
}

void FleetWatch::Handle(Event& event, absl::Time now) {
  switch (event.kind) {
    case Event::kEnded: {
      auto leaving = leaving_.find(event.stream);
      if (leaving != leaving_.end()) {
        leaving_.erase(leaving);
      } else {
        OnEnded(event.agent, event.stream, event.status, now);
      }
      --connected_;
      return;
    }
    case Event::kTargets:
      if (!stopping_) OnTargets(event.targets, now);
      return;
    case Event::kUpdate: {
      auto it = agents_.find(event.agent);
      if (!stopping_ && it != agents_.end()) {
        OnUpdate(event.agent, it->second, event.update, now);
      }
      return;
    }
  }
}

void FleetWatch::CheckLiveness(absl::Time now) {
  for (auto& [id, agent] : agents_) {
    if (agent.state == AgentState::kUp &&
        now - agent.last_heard > stale_after_) {
      // The stream is open but even heartbeats stopped: most likely the
      // agent is stopped or stuck (or the network dropped everything).
      agent.state = AgentState::kStale;
      agent.reported = true;
      agent.error = Reason(agent, now);
      Emit(AgentLine(v1::WatchLine::AGENT_STALE, agent));
    } else if (agent.state == AgentState::kConnecting && !agent.reported &&
               now - agent.attempt_started > stale_after_) {
      agent.reported = true;
      agent.stale_connecting = true;
      agent.error = Reason(agent, now);
      Emit(AgentLine(v1::WatchLine::AGENT_STALE, agent));
    }
  }
}

std::string FleetWatch::Reason(const AgentView& agent, absl::Time now) const {
  switch (agent.state) {
    case AgentState::kUp:
      return "";
    case AgentState::kStale:
      return absl::StrCat("STALE: no update for ",
                          Seconds(now - agent.last_heard),
                          ": the agent is most likely hung (stopped, or "
                          "stuck)");
    case AgentState::kConnecting: {
      const std::string waited = Seconds(now - agent.attempt_started);
      std::string detail;
      const AgentConnection* c =
          agent.stream != nullptr ? &agent.stream->connection() : nullptr;
      if (c != nullptr && c->tunnel != nullptr) {
        switch (c->tunnel->phase()) {
          case TunnelState::Phase::kConnecting:
            detail = ": no TCP connection yet";
            break;
          case TunnelState::Phase::kHandshaking:
            detail =
                ": connected, but no TLS handshake: the agent is most "
                "likely hung (stopped, or stuck)";
            break;
          default:
            detail =
                ": TLS is up, but nothing came: the agent is most likely "
                "hung";
            break;
        }
      }
      if (now - agent.attempt_started <= stale_after_) {
        return absl::StrCat("UNAVAILABLE: still connecting after ", waited,
                            detail);
      }
      return absl::StrCat("DEADLINE_EXCEEDED: no answer for ", waited,
                          " since connecting", detail);
    }
    case AgentState::kDown:
    case AgentState::kWaiting:
      return agent.error.empty() ? "UNAVAILABLE: not connected" : agent.error;
  }
  return agent.error;
}

void FleetWatch::Tick(absl::Time now, absl::Duration elapsed) {
  const double seconds = std::max(1e-3, absl::ToDoubleSeconds(elapsed));
  updates_since_tick_ = 0;
  std::map<std::string, uint64_t> totals = departed_;
  std::map<std::string, uint64_t> stale = departed_;
  // Increases only: counts an agent brought when it joined are in the
  // totals but not in any interval's delta.
  std::map<std::string, uint64_t> deltas;
  for (auto& [id, agent] : agents_) {
    const bool live = agent.state == AgentState::kUp;
    for (auto& [name, view] : agent.probes) {
      const uint64_t delta = view.count.Tick(live);
      view.rate = delta / seconds;
      deltas[name] += delta;
      totals[name] += view.total();
      if (!live) stale[name] += view.total();
    }
  }
  const uint32_t up = static_cast<uint32_t>(Count(AgentState::kUp));
  const uint32_t stale_agents = static_cast<uint32_t>(CountStale());
  auto fleet_line = [&](const std::string& probe) {
    v1::WatchLine line;
    line.set_kind(v1::WatchLine::FLEET);
    line.set_probe(probe);
    ToProto(now, line.mutable_time());
    line.set_agents_up(up);
    line.set_agents_stale(stale_agents);
    line.set_agents(static_cast<uint32_t>(agents_.size()));
    return line;
  };
  for (const auto& [name, total] : totals) {
    FleetView& fleet = fleet_[name];
    const uint64_t delta = deltas[name];
    fleet.rate = delta / seconds;
    fleet.last_tick_total = total;
    v1::WatchLine line = fleet_line(name);
    line.set_total(total);
    line.set_delta(delta);
    line.set_rate(fleet.rate);
    line.set_stale_total(stale[name]);
    Emit(line);
  }
  // Without any probe, programs still learn every interval who is up.
  if (totals.empty()) Emit(fleet_line(""));
  if (ctx_.output == OutputFormat::kJson) {
    std::fflush(ctx_.out);
  } else {
    Render(now);
  }
}

void FleetWatch::Render(absl::Time now) {
  Table table({"PROBE", "NODE", "STATE", "TOTAL", "RATE/s", "VIA", "TOP"});
  std::set<std::string> names;
  for (const auto& [id, agent] : agents_) {
    for (const auto& [name, view] : agent.probes) names.insert(name);
  }
  for (const auto& [name, count] : departed_) names.insert(name);
  for (const std::string& name : names) {
    uint64_t not_live = departed_.count(name) ? departed_.at(name) : 0;
    for (const auto& [id, agent] : agents_) {
      auto it = agent.probes.find(name);
      if (it == agent.probes.end()) continue;
      const ProbeView& v = it->second;
      const bool live = agent.state == AgentState::kUp;
      if (!live) not_live += v.total();
      std::vector<std::string> top;
      for (const auto& kc : v.last.top_keys()) {
        top.push_back(absl::StrCat(kc.key(), "=", kc.count()));
      }
      std::string state = live ? StateName(v.last.state())
                          : agent.state == AgentState::kStale ? "STALE"
                                                              : "DOWN";
      table.AddRow(
          {name, agent.node, state, absl::StrCat(v.total()),
           live && v.count.rate_known() ? absl::StrFormat("%.1f", v.rate) : "-",
           v.last.mechanism(), absl::StrJoin(top, " ")});
    }
    const FleetView& fleet = fleet_[name];
    table.AddRow({name, "FLEET", "", absl::StrCat(fleet.last_tick_total),
                  absl::StrFormat("%.1f", fleet.rate), "",
                  not_live == 0 ? ""
                                : absl::StrCat("(", not_live,
                                               " of it last known, from "
                                               "agents not streaming)")});
  }
  std::vector<AgentOutcome> not_up;
  for (const auto& [id, agent] : agents_) {
    if (agent.state != AgentState::kUp) {
      not_up.push_back(AgentOutcome{false, agent.node, Reason(agent, now)});
    }
  }
  std::string lines;
  std::vector<FailureGroup> groups = GroupFailures(not_up);
  for (size_t i = 0; i < groups.size() && i < kGroupsShown; ++i) {
    absl::StrAppend(&lines, "  not up: ", DescribeGroup(groups[i]), "\n");
  }
  if (groups.size() > kGroupsShown) {
    absl::StrAppend(&lines, "  not up: ", groups.size() - kGroupsShown,
                    " other reasons\n");
  }
  const size_t stale = CountStale();
  std::string text = absl::StrFormat(
      "tally watch  %d/%d agents up%s  every %s  %s\n\n%s%s",
      Count(AgentState::kUp), agents_.size(),
      stale > 0 ? absl::StrCat(", ", stale, " stale") : "",
      absl::FormatDuration(options_.interval),
      absl::FormatTime("%H:%M:%S", now, absl::LocalTimeZone()),
      names.empty() ? "(no probes yet)\n" : table.Render(), lines);
  // A terminal gets the table redrawn in place; anything else gets blocks.
  std::fprintf(ctx_.out, "%s%s\n", options_.live ? "\033[H\033[2J" : "",
               text.c_str());
  std::fflush(ctx_.out);
}

size_t FleetWatch::Streaming() const {
  size_t n = leaving_.size();
  for (const auto& [id, agent] : agents_) n += agent.stream != nullptr;
  return n;
}

int FleetWatch::Run(const std::atomic<bool>& stop) {
  const absl::Time end = options_.duration == absl::InfiniteDuration()
                             ? absl::InfiniteFuture()
                             : ctx_.start + options_.duration;
  // Nothing resolved at all: most likely a mistyped name; say so now.
  const bool any_address =
      std::any_of(agents_.begin(), agents_.end(),
                  [](const auto& a) { return a.second.target.error.empty(); });
  std::optional<TargetRefresh> refresh;
  if (any_address && !ctx_.agents_spec.empty()) {
    refresh.emplace(ctx_.agents_spec, options_.resolve_every,
                    [this](absl::StatusOr<std::vector<AgentTarget>> targets) {
                      Event e;
                      e.kind = Event::kTargets;
                      e.targets = std::move(targets);
                      Push(std::move(e));
                    });
  }
  absl::Time now = absl::Now();
  ConnectWaiting(now);
  absl::Time last_tick = now;
  absl::Time next_tick = now + options_.interval;
  std::deque<Event> batch;
  absl::Time next_look = now;
  while (true) {
    const absl::Time wake = std::min({next_tick, end, next_look});
    {
      absl::MutexLock lock(&mu_);
      auto has_events = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return !events_.empty();
      };
      mu_.AwaitWithDeadline(absl::Condition(&has_events), wake);
      batch.swap(events_);
    }
    now = absl::Now();
    for (Event& e : batch) Handle(e, now);
    const bool had_events = !batch.empty();
    batch.clear();
    if (now >= next_look) {
      ConnectWaiting(now);
      CheckLiveness(now);
      next_look = now + kPoll;
      // Nothing left that could ever stream: say so instead of waiting.
      // An agent that refused the request (INVALID_ARGUMENT) is not retried,
      // whether or not the agent list may change: new agents would refuse it
      // too. Only a name that did not resolve may still heal on a re-read.
      const bool rereading =
          refresh != std::nullopt && MayChange(ctx_.agents_spec);
      if (std::all_of(agents_.begin(), agents_.end(), [&](const auto& a) {
            const AgentView& v = a.second;
            if (v.stream != nullptr) return false;
            if (!v.target.error.empty()) return !rereading;
            return v.retry_at == absl::InfiniteFuture();
          })) {
        break;
      }
    }
    if (now >= next_tick) {
      Tick(now, now - last_tick);
      last_tick = now;
      next_tick = std::max(next_tick + options_.interval, now);
    } else if (ctx_.output == OutputFormat::kJson) {
      std::fflush(ctx_.out);
    }
    if (now >= end || stop.load()) break;
    if (had_events) {
      // Let the next batch gather (not past a tick or the end).
      absl::SleepFor(std::min(kBatch, std::min(next_tick, end) - now));
    }
  }

  // Updates since the last interval's line would be in no FLEET line.
  if (updates_since_tick_ > 0) Tick(now, now - last_tick);

  // The verdict is the state at the end, before streams are cancelled.
  std::vector<AgentOutcome> outcomes;
  for (const auto& [id, agent] : agents_) {
    outcomes.push_back(AgentOutcome{agent.state == AgentState::kUp, agent.node,
                                    Reason(agent, now)});
  }
  stopping_ = true;
  refresh.reset();  // no more target lists
  for (auto& [id, a] : agents_) {
    if (a.stream != nullptr) a.stream->Cancel();
  }
  while (Streaming() > 0) {
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
  if (ctx_.output == OutputFormat::kJson) std::fflush(ctx_.out);
  std::fprintf(ctx_.err, "%s\n", Summary(outcomes).c_str());
  return ExitCode(outcomes);
}

}  // namespace tally::cli
