#include "agent/daemon/sampler.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace tally {
namespace {

// The next multiple of `interval` (since the Unix epoch) after `now`.
absl::Time NextAligned(absl::Time now, absl::Duration interval) {
  absl::Duration since_epoch = now - absl::UnixEpoch();
  return absl::UnixEpoch() + absl::Floor(since_epoch, interval) + interval;
}

CountUpdate UpdateOf(const ActiveProbe& probe, CounterSnapshot counts,
                     ProbeState state, absl::Time now) {
  CountUpdate update;
  update.probe = probe.name;
  update.probe_id = probe.id;
  update.started_at = probe.started_at;
  update.uncounted = probe.uncounted;
  update.time = now;
  update.counts = std::move(counts);
  update.mechanism = std::string(AttachKindName(probe.attached.kind));
  update.state = state;
  return update;
}

}  // namespace

Sampler::Sampler(const ProbeSource* source, const AgentLimits& limits,
                 Clock* clock)
    : source_(source), limits_(limits), clock_(clock) {
  thread_ = std::thread([this] { Run(); });
}

Sampler::~Sampler() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
  // Every RPC has ended by now (the server is shut down first).
  absl::MutexLock lock(&mu_);
  for (auto& [id, entry] : watchers_) delete entry.watcher;
}

void Sampler::ReapLocked() {
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    if (it->second.watcher->Done()) {
      delete it->second.watcher;
      it = watchers_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::Status Sampler::AddWatcher(Watcher* watcher, WatchSpec spec) {
  absl::MutexLock lock(&mu_);
  ReapLocked();
  if (closed_) return absl::UnavailableError("the agent is shutting down");
  if (watchers_.size() >= limits_.max_watchers) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the agent already serves ", watchers_.size(),
                     " watchers (its limit is ", limits_.max_watchers,
                     "); close one or watch through a client that merges"));
  }
  uint64_t id = next_watcher_id_++;
  // Due now: the snapshot comes first.
  watchers_[id] = Entry{watcher, std::move(spec), absl::InfinitePast()};
  woken_ = true;
  return absl::OkStatus();
}

void Sampler::CloseAll() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (auto& [id, entry] : watchers_) entry.watcher->Close();
}

size_t Sampler::watcher_count() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [id, entry] : watchers_) n += entry.watcher->Done() ? 0 : 1;
  return n;
}

bool Sampler::Wants(const WatchSpec& spec, const std::string& probe) {
  return spec.probes.empty() || spec.probes.count(probe) > 0;
}

void Sampler::OfferLocked(CountUpdate& update,
                          const std::vector<uint64_t>* ids,
                          std::set<uint64_t>* offered) {
  // Seqs are assigned under the lock, in the order updates are offered, so
  // every watcher receives them increasing.
  update.seq = ++seq_;
  auto offer = [&](uint64_t id, Entry& entry) {
    if (!Wants(entry.spec, update.probe)) return;
    entry.watcher->Offer(update);
    if (offered != nullptr) offered->insert(id);
  };
  if (ids == nullptr) {
    for (auto& [id, entry] : watchers_) offer(id, entry);
    return;
  }
  for (uint64_t id : *ids) {
    auto it = watchers_.find(id);
    if (it != watchers_.end()) offer(id, it->second);
  }
}

void Sampler::HeartbeatLocked(const std::vector<uint64_t>& due,
                              const std::set<uint64_t>& offered,
                              absl::Time now) {
  if (closed_) return;  // streams only drain their final updates now
  for (uint64_t id : due) {
    auto it = watchers_.find(id);
    if (offered.count(id) > 0 || it == watchers_.end()) continue;
    CountUpdate heartbeat;
    heartbeat.heartbeat = true;
    heartbeat.seq = ++seq_;
    heartbeat.time = now;
    it->second.watcher->Offer(heartbeat);
  }
}

void Sampler::OnProbeEnded(const ActiveProbe& probe,
                           const CounterSnapshot& counts, ProbeState state) {
  CountUpdate update = UpdateOf(probe, counts, state, clock_->Now());
  absl::MutexLock lock(&mu_);
  ended_ids_.push_back(probe.id);
  // A race spans one tick at most; a short memory suffices.
  if (ended_ids_.size() > 1024) ended_ids_.pop_front();
  OfferLocked(update, nullptr);
}

void Sampler::Run() {
  mu_.Lock();
  while (!stop_) {
    absl::Time wake = absl::InfiniteFuture();
    for (const auto& [id, entry] : watchers_) {
      wake = std::min(wake, entry.next_due);
    }
    auto woken = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return woken_ || stop_;
    };
    clock_->AwaitWithDeadline(&mu_, absl::Condition(&woken), wake);
    woken_ = false;
    if (stop_) break;
    ReapLocked();

    // Who is due, and which probes they need, at which top N.
    const absl::Time now = clock_->Now();
    std::vector<uint64_t> due;
    std::vector<std::pair<WatchSpec, bool>> due_specs;  // spec, snapshot
    for (auto& [id, entry] : watchers_) {
      if (entry.next_due > now) continue;
      due.push_back(id);
      due_specs.emplace_back(entry.spec,
                             entry.next_due == absl::InfinitePast());
      entry.next_due = NextAligned(now, entry.spec.interval);
    }
    if (due.empty()) continue;
    mu_.Unlock();

    // Map reads happen unlocked: adding or removing watchers never waits
    // for a key walk.
    std::vector<CountUpdate> updates;
    std::set<uint64_t> active;
    for (const std::shared_ptr<const ActiveProbe>& probe :
         source_->ActiveProbes()) {
      active.insert(probe->id);
      bool wanted = false, tick = false;
      uint32_t top_n = 0;
      absl::Duration fresh_enough = absl::InfiniteDuration();
      for (const auto& [spec, snapshot] : due_specs) {
        if (!Wants(spec, probe->name)) continue;
        wanted = true;
        top_n = std::max(top_n, spec.top_n);
        if (snapshot) {
          fresh_enough = std::min(fresh_enough, spec.interval);
        } else {
          tick = true;
        }
      }
      if (!wanted) continue;
      auto last = last_reads_.find(probe->id);
      if (!tick && last != last_reads_.end() &&
          now - last->second.update.time < fresh_enough &&
          last->second.top_n >= top_n) {
        updates.push_back(last->second.update);  // snapshots only
        continue;
      }
      absl::StatusOr<CounterSnapshot> counts = probe->counter->Read(top_n);
      if (!counts.ok()) {
        LOG(WARNING) << "reading probe " << probe->name
                     << " failed: " << counts.status();
        continue;
      }
      CountUpdate update = UpdateOf(*probe, *std::move(counts),
                                    ProbeState::kRunning, clock_->Now());
      last_reads_[probe->id] = LastRead{top_n, update};
      updates.push_back(std::move(update));
    }
    for (auto it = last_reads_.begin(); it != last_reads_.end();) {
      it = active.count(it->first) ? std::next(it) : last_reads_.erase(it);
    }

    mu_.Lock();
    std::set<uint64_t> offered;
    for (CountUpdate& update : updates) {
      if (std::find(ended_ids_.begin(), ended_ids_.end(), update.probe_id) !=
          ended_ids_.end()) {
        continue;  // stopped while we read it; its final update went out
      }
      OfferLocked(update, &due, &offered);
    }
    // Every due watcher hears from us each tick, probes or not: silence
    // then means a hung agent, not an idle one.
    HeartbeatLocked(due, offered, clock_->Now());
  }
  mu_.Unlock();
}

}  // namespace tally
