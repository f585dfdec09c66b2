#include "agent/daemon/probe_manager.h"

#include <malloc.h>
#include <sys/random.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/group_by.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace tally {
namespace {

// How often a durable store hears that the agent is alive: the precision of
// an uncounted window's start when the agent is killed.
constexpr absl::Duration kAliveInterval = absl::Seconds(1);

std::string DescribeSpec(const std::string& hook, const CounterOptions& o) {
  std::string out = hook;
  if (o.group_by != GroupBy::kNone) {
    absl::StrAppend(&out, " group-by ", GroupByName(o.group_by), " max-keys ",
                    o.max_keys);
  }
  if (o.tgid != 0) absl::StrAppend(&out, " pid ", o.tgid);
  if (o.cgroup_id != 0) absl::StrAppend(&out, " cgroup ", o.cgroup_id);
  return out;
}

absl::Status CallerGaveUp(const std::string& name) {
  return absl::CancelledError(
      absl::StrCat("the caller gave up (deadline or cancel) before probe '",
                   name, "' was started; nothing was left running"));
}

std::string ExpiredReason(absl::Duration ttl, absl::Time expires_at) {
  return absl::StrCat("its ttl of ", absl::FormatDuration(ttl), " passed at ",
                      absl::FormatTime(expires_at));
}

std::shared_ptr<ActiveProbe> ActiveFrom(const ProbeRecord& r,
                                        std::unique_ptr<Counter> counter) {
  auto p = std::make_shared<ActiveProbe>();
  p->id = r.probe_id;
  p->name = r.name;
  p->hook = r.hook;
  p->options = r.options;
  p->attached = r.attached;
  p->note = r.note;
  p->started_at = r.started_at;
  p->uncounted = r.uncounted;
  p->counter = std::move(counter);
  return p;
}

}  // namespace

absl::string_view ProbeStateName(ProbeState state) {
  switch (state) {
    case ProbeState::kRunning:
      return "running";
    case ProbeState::kStopped:
      return "stopped";
    case ProbeState::kExpired:
      return "expired";
    case ProbeState::kFailed:
      return "failed";
    case ProbeState::kSkipped:
      return "skipped";
  }
  return "unknown";
}

uint64_t NewProbeId() {
  uint64_t id = 0;
  while (id == 0) {
    if (getrandom(&id, sizeof(id), 0) != sizeof(id)) {
      // No entropy yet: the clock is unique enough for one agent.
      id = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
    }
  }
  return id;
}

ProbeManager::ProbeManager(ProbeStore* store, const AgentLimits& limits,
                           Clock* clock)
    : store_(store), limits_(limits), clock_(clock) {
  worker_ = std::thread([this] { Run(); });
}

ProbeManager::~ProbeManager() {
  {
    absl::MutexLock lock(&mu_);
    stop_worker_ = true;
  }
  worker_.join();
  absl::MutexLock lock(&mu_);
  // A durable store's probes keep counting; others detach here.
  probes_.clear();
}

void ProbeManager::SetListener(ProbeListener* listener) {
  listener_ = listener;
}

std::vector<std::string> ProbeManager::Adopt() {
  Adoption adoption = store_->AdoptAll();
  const absl::Time now = clock_->Now();
  std::vector<std::string> expired;
  std::vector<AdoptedProbe> reopen;
  {
    absl::MutexLock lock(&mu_);
    for (AdoptedProbe& a : adoption.probes) {
      if (a.must_reopen) {
        reopen.push_back(std::move(a));
        continue;
      }
      const std::string name = a.record.name;
      Entry entry;
      entry.ttl = a.record.ttl;
      entry.expires_at = a.record.expires_at;
      entry.origin = a.record.origin;
      if (a.ended) {
        entry.error = ExpiredReason(a.record.ttl, a.record.expires_at);
        entry.not_running = ProbeState::kExpired;
        entry.final_total = a.record.final_total;
      } else if (!a.problem.ok() || a.counter == nullptr) {
        entry.error = std::string(a.problem.message());
        LOG(WARNING) << "probe " << name
                     << " could not be re-adopted: " << entry.error;
      } else {
        LOG(INFO) << "re-adopted probe " << name << ": " << a.continuity;
      }
      auto probe = ActiveFrom(a.record, std::move(a.counter));
      probe->readopted = true;
      probe->continuity = a.continuity;
      entry.probe = std::move(probe);
      if (entry.error.empty() && entry.expires_at <= now)
        expired.push_back(name);
      probes_[name] = std::move(entry);
    }
  }
  // Its TTL passed while no agent ran: it ends now, as it would have.
  for (const std::string& name : expired) {
    (void)DoStop(name, ProbeState::kExpired);
  }
  // Maps another agent version wrote cannot be read: start it afresh, a
  // new incarnation, and say so.
  for (AdoptedProbe& a : reopen) {
    ProbeConfig config;
    config.name = a.record.name;
    absl::StatusOr<HookSpec> hook = ParseHookSpec(a.record.hook);
    if (!hook.ok()) {
      adoption.warnings.push_back(
          absl::StrCat("probe ", a.record.name,
                       ": cannot restart it: ", hook.status().message()));
      (void)store_->Remove(a.record.name);
      continue;
    }
    config.hook = *hook;
    config.options = a.record.options;
    config.ttl = a.record.ttl;
    absl::StatusOr<StartResult> restarted = DoStart(config, nullptr);
    adoption.warnings.push_back(absl::StrCat(
        "probe ", a.record.name, ": ", a.continuity,
        restarted.ok() ? "; restarted as a new incarnation"
                       : absl::StrCat("; restarting it failed: ",
                                      restarted.status().message())));
  }
  for (const std::string& w : adoption.warnings) LOG(WARNING) << w;
  {
    absl::MutexLock lock(&mu_);
    next_alive_ = absl::InfinitePast();
  }
  (void)Post([] {});  // the worker says this agent is alive at once
  return adoption.warnings;
}

bool ProbeManager::Post(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= limits_.max_queued_operations) return false;
  queue_.push_back(std::move(task));
  return true;
}

void ProbeManager::Start(ProbeConfig config, StartDone done,
                         StillWanted still_wanted) {
  auto task = [this, config = std::move(config), done,
               still_wanted = std::move(still_wanted)]() {
    done(DoStart(config, still_wanted));
  };
  if (!Post(std::move(task))) {
    done(absl::ResourceExhaustedError(
        absl::StrCat("the agent already has ", limits_.max_queued_operations,
                     " start/stop operations queued; retry shortly")));
  }
}

void ProbeManager::Stop(std::string name, StopDone done) {
  auto task = [this, name = std::move(name), done]() {
    {
      absl::MutexLock lock(&mu_);
      if (shutting_down_) {
        done(absl::UnavailableError(
            "the agent is shutting down; stop the probe once it is back"));
        return;
      }
      auto it = probes_.find(name);
      if (it != probes_.end() && !it->second.origin.empty() &&
          it->second.origin == declaring_file_) {
        done(absl::FailedPreconditionError(absl::StrCat(
            "probe '", name, "' is declared in ", it->second.origin,
            "; remove it there and every node stops it")));
        return;
      }
    }
    done(DoStop(name, ProbeState::kStopped));
  };
  if (!Post(std::move(task))) {
    done(absl::ResourceExhaustedError(
        absl::StrCat("the agent already has ", limits_.max_queued_operations,
                     " start/stop operations queued; retry shortly")));
  }
}

void ProbeManager::Run() {
  mu_.Lock();
  while (true) {
    absl::Time wake = absl::InfiniteFuture();
    for (const auto& [name, entry] : probes_) {
      if (entry.error.empty()) wake = std::min(wake, entry.expires_at);
    }
    if (store_->durable()) wake = std::min(wake, next_alive_);
    auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return stop_worker_ || !queue_.empty();
    };
    clock_->AwaitWithDeadline(&mu_, absl::Condition(&ready), wake);
    if (stop_worker_ && queue_.empty()) break;
    std::function<void()> task;
    if (!queue_.empty()) {
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    const absl::Time now = clock_->Now();
    const bool mark_alive = store_->durable() && now >= next_alive_;
    if (mark_alive) next_alive_ = now + kAliveInterval;
    mu_.Unlock();
    if (mark_alive) store_->MarkAlive(now);
    if (task) {
      task();
      // Loads may parse the full kernel BTF (tp_btf, fentry): megabytes
      // freed at once, worth returning to the system.
      malloc_trim(0);
    }
    StopExpired();
    mu_.Lock();
  }
  mu_.Unlock();
}

ProbeRecord ProbeManager::RecordOf(const Entry& entry) {
  const ActiveProbe& p = *entry.probe;
  ProbeRecord r;
  r.name = p.name;
  r.hook = p.hook;
  r.options = p.options;
  r.attached = p.attached;
  r.note = p.note;
  r.probe_id = p.id;
  r.started_at = p.started_at;
  r.ttl = entry.ttl;
  r.expires_at = entry.expires_at;
  r.origin = entry.origin;
  r.uncounted = p.uncounted;
  r.final_total = entry.final_total;
  return r;
}

ProbeInfo ProbeManager::Describe(const Entry& entry, ProbeState state) {
  ProbeInfo info;
  info.probe = entry.probe;
  info.ttl = entry.ttl;
  info.expires_at = entry.expires_at;
  info.state = entry.error.empty() ? state : entry.not_running;
  info.error = entry.error;
  info.origin = entry.origin;
  if (!entry.error.empty()) info.total = entry.final_total;
  return info;
}

absl::StatusOr<ProbeInfo> ProbeManager::InfoOf(const Entry& entry) const {
  ProbeInfo info = Describe(entry, ProbeState::kRunning);
  if (!entry.error.empty()) return info;
  absl::StatusOr<CounterSnapshot> snap = entry.probe->counter->Read(0);
  if (!snap.ok()) {
    return absl::InternalError(
        absl::StrCat("reading probe '", entry.probe->name,
                     "' failed: ", snap.status().message()));
  }
  info.total = snap->total;
  return info;
}

absl::StatusOr<StartResult> ProbeManager::DoStart(
    const ProbeConfig& config, const StillWanted& still_wanted,
    const std::string& origin) {
  auto gave_up = [&] { return still_wanted && !still_wanted(); };
  const std::string hook = config.hook.ToSpec();
  const absl::Time now = clock_->Now();
  const absl::Time expires_at = config.ttl > absl::ZeroDuration()
                                    ? now + config.ttl
                                    : absl::InfiniteFuture();
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      return absl::UnavailableError("the agent is shutting down");
    }
    auto it = probes_.find(config.name);
    if (it != probes_.end() && it->second.origin.empty() &&
        it->second.not_running == ProbeState::kExpired &&
        !it->second.error.empty()) {
      // Its TTL passed: starting it again is a new incarnation.
      (void)store_->Remove(config.name);
      probes_.erase(it);
      it = probes_.end();
    }
    if (it != probes_.end()) {
      const ActiveProbe& running = *it->second.probe;
      const std::string& declared_in = it->second.origin;
      if (!it->second.error.empty()) {
        return absl::AlreadyExistsError(absl::StrCat(
            "probe '", config.name, "' is ",
            declared_in.empty()
                ? "one that could not be re-adopted"
                : absl::StrCat("declared in ", declared_in, " and ",
                               ProbeStateName(it->second.not_running)),
            " (", it->second.error, "); ",
            declared_in.empty() ? "stop it first to remove it"
                                : "choose another name"));
      }
      if (running.hook != hook || !(running.options == config.options)) {
        return absl::AlreadyExistsError(absl::StrCat(
            "probe '", config.name, "' already runs ",
            DescribeSpec(running.hook, running.options),
            declared_in.empty() ? ""
                                : absl::StrCat(" as declared in ", declared_in),
            "; requested ", DescribeSpec(hook, config.options),
            declared_in.empty() ? ": stop it first or choose another name"
                                : ": change it there or choose another name"));
      }
      if (!declared_in.empty()) {
        // The file owns it, TTL included: an identical request changes nothing.
        ASSIGN_OR_RETURN(ProbeInfo info, InfoOf(it->second));
        return StartResult{std::move(info), false};
      }
      // Idempotent start: the same probe, its TTL renewed to the request's.
      // A request without one keeps it: a plain re-run of a start must not
      // turn a time-boxed probe into one that runs forever.
      if (config.ttl > absl::ZeroDuration()) {
        it->second.ttl = config.ttl;
        it->second.expires_at = expires_at;
      }
      if (absl::Status s = store_->Update(RecordOf(it->second)); !s.ok()) {
        LOG(WARNING) << "keeping probe " << config.name
                     << "'s renewed TTL failed: " << s;
      }
      ASSIGN_OR_RETURN(ProbeInfo info, InfoOf(it->second));
      return StartResult{std::move(info), false};
    }
    if (CountedProbes() >= limits_.max_probes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the agent already runs ", CountedProbes(), " probes (its limit is ",
          limits_.max_probes, "); stop one first"));
    }
  }

  if (gave_up()) return CallerGaveUp(config.name);
  ProbeRecord record;
  record.name = config.name;
  record.hook = hook;
  record.options = config.options;
  record.probe_id = NewProbeId();
  record.started_at = now;
  record.ttl = config.ttl;
  record.expires_at = expires_at;
  record.origin = origin;
  // The slow part runs unlocked: List() and the sampler carry on meanwhile.
  absl::StatusOr<OpenedCounter> opened = store_->Open(config.hook, &record);
  if (!opened.ok()) return opened.status();
  // Nobody would learn of a probe kept now: it would run with no owner.
  if (gave_up()) {
    opened->counter->Detach();
    (void)store_->Remove(config.name);
    return CallerGaveUp(config.name);
  }

  Entry entry;
  entry.probe = ActiveFrom(record, std::move(opened->counter));
  entry.ttl = config.ttl;
  entry.expires_at = expires_at;
  entry.origin = origin;
  LOG(INFO) << "started probe " << config.name << " (" << hook << " via "
            << entry.probe->attached.ToSpec() << ")";
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = probes_.emplace(config.name, std::move(entry));
  absl::StatusOr<ProbeInfo> info = InfoOf(it->second);
  if (!info.ok()) return info.status();  // still running: List() shows it
  return StartResult{*std::move(info), true};
}

absl::StatusOr<ProbeInfo> ProbeManager::DoStop(const std::string& name,
                                               ProbeState state) {
  // An expired probe stays listed (as it is, then as expired with its
  // final total): never missing from a listing in between.
  const bool keep = state == ProbeState::kExpired;
  Entry entry;
  {
    absl::MutexLock lock(&mu_);
    auto it = probes_.find(name);
    if (it == probes_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no probe named '", name, "' is running"));
    }
    if (keep) {
      entry = it->second;
    } else {
      entry = std::move(it->second);
      probes_.erase(it);
    }
  }
  ProbeInfo info = Describe(entry, state);
  info.state = state;
  absl::StatusOr<CounterSnapshot> final_counts =
      absl::FailedPreconditionError("not counting");
  if (entry.probe->counter != nullptr) {
    // Detach here, on the worker (the serialization point), before the
    // final read: nothing counts after it, so no later read can exceed it.
    entry.probe->counter->Detach();
    final_counts = entry.probe->counter->Read(limits_.max_top_n);
    if (final_counts.ok()) {
      info.total = final_counts->total;
    } else {
      LOG(WARNING) << "final read of probe " << name
                   << " failed: " << final_counts.status();
    }
  }
  if (keep) {
    KeepExpired(info);
  } else if (absl::Status s = store_->Remove(name); !s.ok()) {
    LOG(WARNING) << "removing probe " << name << " from the store: " << s;
  }
  // Watchers hear of the end once a listing shows it too.
  if (final_counts.ok() && listener_ != nullptr) {
    listener_->OnProbeEnded(*entry.probe, *final_counts, state);
  }
  LOG(INFO) << "probe " << name << " " << ProbeStateName(state) << " at total "
            << info.total;
  return info;
}

void ProbeManager::Reconcile(std::string origin,
                             std::vector<DeclaredConfig> declared,
                             std::function<void(ReconcileResult)> done) {
  auto task = [this, origin = std::move(origin), declared = std::move(declared),
               done]() {
    ReconcileResult result = DoReconcile(origin, declared);
    if (done) done(result);
  };
  if (!Post(std::move(task))) {
    LOG(WARNING) << "reconciling " << origin
                 << " postponed: the worker's queue is full";
  }
}

uint32_t ProbeManager::ClaimDeclared(const std::string& origin) {
  absl::MutexLock lock(&mu_);
  declaring_file_ = origin;
  uint32_t declared = 0;
  for (const auto& [name, entry] : probes_) {
    if (entry.origin == origin) ++declared;
  }
  return declared;
}

ReconcileResult ProbeManager::DoReconcile(
    const std::string& origin, const std::vector<DeclaredConfig>& declared) {
  ReconcileResult result;
  {
    absl::MutexLock lock(&mu_);
    declaring_file_ = origin;
  }
  std::map<std::string, const DeclaredConfig*> wanted;
  for (const DeclaredConfig& d : declared) wanted[d.config.name] = &d;

  // What to stop first: declared no more, changed, or waiting for a retry.
  std::vector<std::string> stop, forget;
  std::vector<const DeclaredConfig*> start;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return result;
    for (const auto& [name, entry] : probes_) {
      if (entry.origin == origin && wanted.count(name) == 0) {
        (entry.error.empty() ? stop : forget).push_back(name);
      }
    }
    for (const DeclaredConfig& d : declared) {
      auto it = probes_.find(d.config.name);
      if (it == probes_.end()) {
        start.push_back(&d);
        continue;
      }
      Entry& entry = it->second;
      const ActiveProbe& p = *entry.probe;
      const bool same =
          p.hook == d.config.hook.ToSpec() && p.options == d.config.options;
      // Only this file's expired probe stays expired; an API one of the
      // same name gives way to the declaration.
      const bool expired = entry.not_running == ProbeState::kExpired &&
                           entry.origin == origin;
      if (!entry.error.empty() && !(expired && same)) {
        // Not counting: try it again (it may run now).
        forget.push_back(d.config.name);
        start.push_back(&d);
      } else if (same) {
        // Untouched: no detach, no count reset. The file owns it now.
        entry.origin = origin;
        if (entry.ttl != d.config.ttl) {
          entry.ttl = d.config.ttl;
          entry.expires_at = d.config.ttl > absl::ZeroDuration()
                                 ? p.started_at + d.config.ttl
                                 : absl::InfiniteFuture();
        }
        (void)store_->Update(RecordOf(entry));
        ++result.unchanged;
      } else {
        stop.push_back(d.config.name);
        start.push_back(&d);
        ++result.replaced;
      }
    }
    for (const std::string& name : forget) probes_.erase(name);
  }
  for (const std::string& name : stop) {
    (void)DoStop(name, ProbeState::kStopped);
    if (wanted.count(name) == 0) ++result.stopped;
  }
  for (const std::string& name : forget) {
    // Whatever the store keeps of it (an expired record, maps that could
    // not be re-adopted) goes: it is started afresh or not at all.
    (void)store_->Remove(name);
    if (wanted.count(name) == 0) ++result.stopped;
  }
  for (const DeclaredConfig* d : start) {
    absl::StatusOr<StartResult> started = DoStart(d->config, nullptr, origin);
    if (started.ok()) {
      if (started->created) ++result.started;
      continue;
    }
    const absl::Status& s = started.status();
    // The kernel lacks the mechanism, or the target is not there.
    const bool skip =
        d->optional && (absl::IsFailedPrecondition(s) || absl::IsNotFound(s));
    LOG(WARNING) << "declared probe " << d->config.name << " (" << origin << ":"
                 << d->line << ") " << (skip ? "skipped" : "failed") << ": "
                 << s.message();
    skip ? ++result.skipped : ++result.failed;
    Entry entry;
    ProbeRecord record;
    record.name = d->config.name;
    record.hook = d->config.hook.ToSpec();
    record.options = d->config.options;
    entry.probe = ActiveFrom(record, nullptr);
    entry.ttl = d->config.ttl;
    entry.expires_at = absl::InfiniteFuture();
    entry.error = std::string(s.message());
    entry.not_running = skip ? ProbeState::kSkipped : ProbeState::kFailed;
    entry.origin = origin;
    absl::MutexLock lock(&mu_);
    probes_.emplace(d->config.name, std::move(entry));
  }
  LOG(INFO) << "reconciled " << origin << ": " << result.started << " started, "
            << result.replaced << " replaced, " << result.stopped
            << " stopped, " << result.unchanged << " unchanged, "
            << result.skipped << " skipped, " << result.failed << " failed";
  return result;
}

void ProbeManager::StopExpired() {
  std::vector<std::string> expired;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    for (const auto& [name, entry] : probes_) {
      if (entry.error.empty() && entry.expires_at <= now) {
        expired.push_back(name);
      }
    }
  }
  for (const std::string& name : expired) {
    (void)DoStop(name, ProbeState::kExpired);
  }
}

void ProbeManager::KeepExpired(const ProbeInfo& ended) {
  // It stays listed as expired with its final total, and its record stays
  // in the store: the next agent lists it too, and neither a reconcile of
  // the same file nor the next agent starts a declared one again.
  Entry entry;
  entry.probe = ended.probe;
  entry.ttl = ended.ttl;
  entry.expires_at = ended.expires_at;
  entry.origin = ended.origin;
  // Described without its counter: the maps go once the caller lets go.
  entry.probe = ActiveFrom(RecordOf(entry), nullptr);
  entry.error = ExpiredReason(ended.ttl, ended.expires_at);
  entry.not_running = ProbeState::kExpired;
  entry.final_total = ended.total;
  if (absl::Status s = store_->Retire(RecordOf(entry)); !s.ok()) {
    LOG(WARNING) << "keeping the record of expired probe " << ended.probe->name
                 << ": " << s;
  }
  absl::MutexLock lock(&mu_);
  probes_[ended.probe->name] = std::move(entry);
  // Bounded: automation starting uniquely named probes with TTLs must not
  // grow the list forever. Declared ones go with their file.
  std::vector<std::pair<absl::Time, std::string>> kept;
  for (const auto& [name, e] : probes_) {
    if (e.not_running == ProbeState::kExpired && !e.error.empty() &&
        e.origin.empty()) {
      kept.emplace_back(e.expires_at, name);
    }
  }
  if (kept.size() <= kMaxExpiredKept) return;
  std::sort(kept.begin(), kept.end());
  for (size_t i = 0; i + kMaxExpiredKept < kept.size(); ++i) {
    (void)store_->Remove(kept[i].second);
    probes_.erase(kept[i].second);
  }
}

size_t ProbeManager::CountedProbes() const {
  size_t n = 0;
  for (const auto& [name, e] : probes_) {
    if (!(e.not_running == ProbeState::kExpired && !e.error.empty())) ++n;
  }
  return n;
}

absl::StatusOr<std::vector<ProbeInfo>> ProbeManager::List(
    bool with_cost) const {
  std::vector<Entry> entries;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, entry] : probes_) entries.push_back(entry);
  }
  std::vector<ProbeInfo> out;
  out.reserve(entries.size());
  for (const Entry& entry : entries) {
    ASSIGN_OR_RETURN(ProbeInfo info, InfoOf(entry));
    if (with_cost && entry.error.empty()) {
      absl::StatusOr<CounterCost> cost = entry.probe->counter->Cost();
      if (cost.ok()) {
        info.cost = *cost;
      } else {
        VLOG(1) << "probe " << entry.probe->name
                << ": no cost: " << cost.status();
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<ProbeInfo> ProbeManager::Describe() const {
  absl::MutexLock lock(&mu_);
  std::vector<ProbeInfo> out;
  out.reserve(probes_.size());
  for (const auto& [name, entry] : probes_) {
    out.push_back(Describe(entry, ProbeState::kRunning));
  }
  return out;
}

bool ProbeManager::Exists(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  return probes_.count(name) > 0;
}

std::vector<std::shared_ptr<const ActiveProbe>> ProbeManager::ActiveProbes()
    const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<const ActiveProbe>> out;
  out.reserve(probes_.size());
  for (const auto& [name, entry] : probes_) {
    if (entry.error.empty()) out.push_back(entry.probe);
  }
  return out;
}

void ProbeManager::Shutdown() {
  absl::Notification done;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    // Ahead of anything queued: shutting down outranks pending starts, which
    // now fail with UNAVAILABLE.
    queue_.push_front([this, &done] {
      std::vector<std::string> names;
      {
        absl::MutexLock lock(&mu_);
        for (const auto& [name, entry] : probes_) names.push_back(name);
      }
      if (store_->durable()) {
        // They go on counting for the next agent; this one lets go.
        store_->MarkAlive(clock_->Now());
        absl::MutexLock lock(&mu_);
        probes_.clear();
      } else {
        for (const std::string& name : names) {
          (void)DoStop(name, ProbeState::kStopped);
        }
      }
      done.Notify();
    });
  }
  done.WaitForNotification();
}

}  // namespace tally
