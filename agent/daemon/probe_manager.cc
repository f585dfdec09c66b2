#include "agent/daemon/probe_manager.h"

#include <malloc.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/group_by.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace tally {
namespace {

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
  return absl::CancelledError(absl::StrCat(
      "the caller gave up (deadline or cancel) before probe '", name,
      "' was started; nothing was left running"));
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
  }
  return "unknown";
}

ProbeManager::ProbeManager(CounterOpener opener, const AgentLimits& limits,
                           Clock* clock)
    : opener_(std::move(opener)), limits_(limits), clock_(clock) {
  worker_ = std::thread([this] { Run(); });
}

ProbeManager::~ProbeManager() {
  {
    absl::MutexLock lock(&mu_);
    stop_worker_ = true;
  }
  worker_.join();
  absl::MutexLock lock(&mu_);
  probes_.clear();  // detaches whatever Shutdown() did not stop
}

void ProbeManager::SetListener(ProbeListener* listener) {
  listener_ = listener;
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
            "the agent is shutting down and stops every probe itself"));
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
    absl::Time next_expiry = absl::InfiniteFuture();
    for (const auto& [name, entry] : probes_) {
      next_expiry = std::min(next_expiry, entry.expires_at);
    }
    auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return stop_worker_ || !queue_.empty();
    };
    clock_->AwaitWithDeadline(&mu_, absl::Condition(&ready), next_expiry);
    if (stop_worker_ && queue_.empty()) break;
    std::function<void()> task;
    if (!queue_.empty()) {
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    mu_.Unlock();
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

ProbeInfo ProbeManager::Describe(const Entry& entry, ProbeState state) {
  ProbeInfo info;
  info.probe = entry.probe;
  info.ttl = entry.ttl;
  info.expires_at = entry.expires_at;
  info.state = state;
  return info;
}

absl::StatusOr<ProbeInfo> ProbeManager::InfoOf(const Entry& entry) const {
  ProbeInfo info = Describe(entry, ProbeState::kRunning);
  absl::StatusOr<CounterSnapshot> snap = entry.probe->counter->Read(0);
  if (!snap.ok()) {
    return absl::InternalError(absl::StrCat("reading probe '",
                                            entry.probe->name, "' failed: ",
                                            snap.status().message()));
  }
  info.total = snap->total;
  return info;
}

absl::StatusOr<StartResult> ProbeManager::DoStart(
    const ProbeConfig& config, const StillWanted& still_wanted) {
  auto gave_up = [&] { return still_wanted && !still_wanted(); };
  const std::string hook = config.hook.ToSpec();
  const absl::Time now = clock_->Now();
  const absl::Time expires_at = config.ttl > absl::ZeroDuration()
                                    ? now + config.ttl
                                    : absl::InfiniteFuture();
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      return absl::UnavailableError("the agent is shutting down");
    }
    auto it = probes_.find(config.name);
    if (it != probes_.end()) {
      const ActiveProbe& running = *it->second.probe;
      if (running.hook != hook || !(running.options == config.options)) {
        return absl::AlreadyExistsError(
            absl::StrCat("probe '", config.name, "' already runs ",
                         DescribeSpec(running.hook, running.options),
                         "; requested ", DescribeSpec(hook, config.options),
                         ": stop it first or choose another name"));
      }
      // Idempotent start: the same probe, its TTL renewed.
      it->second.ttl = config.ttl;
      it->second.expires_at = expires_at;
      ASSIGN_OR_RETURN(ProbeInfo info, InfoOf(it->second));
      return StartResult{std::move(info), false};
    }
    if (probes_.size() >= limits_.max_probes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the agent already runs ", probes_.size(), " probes (its limit is ",
          limits_.max_probes, "); stop one first"));
    }
    id = next_id_++;
  }

  if (gave_up()) return CallerGaveUp(config.name);
  // The slow part runs unlocked: List() and the sampler carry on meanwhile.
  absl::StatusOr<OpenedCounter> opened = opener_(config.hook, config.options);
  if (!opened.ok()) return opened.status();
  // Nobody would learn of a probe kept now: it would run with no owner.
  if (gave_up()) return CallerGaveUp(config.name);

  auto probe = std::make_shared<ActiveProbe>();
  probe->id = id;
  probe->name = config.name;
  probe->hook = hook;
  probe->options = config.options;
  probe->attached = opened->attached;
  probe->note = opened->note;
  probe->started_at = clock_->Now();
  probe->counter = std::move(opened->counter);

  Entry entry{std::move(probe), config.ttl, expires_at};
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
  Entry entry;
  {
    absl::MutexLock lock(&mu_);
    auto it = probes_.find(name);
    if (it == probes_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no probe named '", name, "' is running"));
    }
    entry = std::move(it->second);
    probes_.erase(it);
  }
  ProbeInfo info = Describe(entry, state);
  // Detach here, on the worker (the serialization point), before the final
  // read: nothing counts after it, so no later read can exceed it.
  entry.probe->counter->Detach();
  absl::StatusOr<CounterSnapshot> final_counts =
      entry.probe->counter->Read(limits_.max_top_n);
  if (final_counts.ok()) {
    info.total = final_counts->total;
    if (listener_ != nullptr) {
      listener_->OnProbeEnded(*entry.probe, *final_counts, state);
    }
  } else {
    LOG(WARNING) << "final read of probe " << name
                 << " failed: " << final_counts.status();
  }
  LOG(INFO) << "probe " << name << " " << ProbeStateName(state) << " at total "
            << info.total;
  return info;
}

void ProbeManager::StopExpired() {
  std::vector<std::string> expired;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    for (const auto& [name, entry] : probes_) {
      if (entry.expires_at <= now) expired.push_back(name);
    }
  }
  for (const std::string& name : expired) {
    (void)DoStop(name, ProbeState::kExpired);
  }
}

absl::StatusOr<std::vector<ProbeInfo>> ProbeManager::List() const {
  std::vector<Entry> entries;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, entry] : probes_) entries.push_back(entry);
  }
  std::vector<ProbeInfo> out;
  out.reserve(entries.size());
  for (const Entry& entry : entries) {
    ASSIGN_OR_RETURN(ProbeInfo info, InfoOf(entry));
    out.push_back(std::move(info));
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
  for (const auto& [name, entry] : probes_) out.push_back(entry.probe);
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
      for (const std::string& name : names) {
        (void)DoStop(name, ProbeState::kStopped);
      }
      done.Notify();
    });
  }
  done.WaitForNotification();
}

}  // namespace tally
