#include "agent/daemon/metrics_collector.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "agent/daemon/metrics_exposition.h"
#include "agent/daemon/version.h"
#include "common/group_by.h"
#include "glog/logging.h"

namespace tally {
namespace {

constexpr ProbeState kStates[] = {ProbeState::kRunning, ProbeState::kStopped,
                                  ProbeState::kExpired, ProbeState::kFailed,
                                  ProbeState::kSkipped};

double Seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

// Every family, in the order a scrape lists them.
void DeclareFamilies(Exposition& e) {
  using T = MetricType;
  e.Family("tally_agent_info", T::kGauge,
           "The agent: version, node, kernel and epoch (changes at every "
           "agent start); always 1.");
  e.Family("tally_agent_start_time_seconds", T::kGauge,
           "When this agent started, in seconds since the Unix epoch.");
  e.Family("tally_agent_warnings", T::kGauge,
           "Things start-up found that need a person (tallyctl info shows "
           "them).");
  e.Family("tally_probes", T::kGauge, "Probes this agent lists, by state.");
  e.Family("tally_bpf_stats_enabled", T::kGauge,
           "1 while the kernel records BPF run-time statistics (held by this "
           "agent or the sysctl kernel.bpf_stats_enabled): only then do "
           "tally_probe_bpf_run* advance.");
  e.Family("tally_probes_file_declared_probes", T::kGauge,
           "Probes the probes file declared when it last loaded cleanly.");
  e.Family("tally_probes_file_last_reload_successful", T::kGauge,
           "1 when the probes file's current contents are in effect, 0 when "
           "they are not (tallyctl info says why; the last good set runs).");
  e.Family("tally_probes_file_last_reload_success_timestamp_seconds",
           T::kGauge,
           "When the probes file last loaded and reconciled cleanly.");
  e.Family("tally_probes_file_last_error_timestamp_seconds", T::kGauge,
           "Since when the probes file's current contents are refused.");
  e.Family("tally_probe_info", T::kGauge,
           "A probe: hook, where and how it attached, grouping, state and "
           "origin (the probes file that declares it; empty: the API); "
           "always 1.");
  e.Family("tally_probe_start_time_seconds", T::kGauge,
           "When this incarnation of the probe started, in seconds since the "
           "Unix epoch.");
  e.Family("tally_probe_events_total", T::kCounter,
           "Events the probe counted (this incarnation; continues across "
           "agent restarts).");
  e.Family("tally_probe_dropped_key_events_total", T::kCounter,
           "Of those, events whose key did not fit in the full key map.");
  e.Family("tally_probe_reclaimed_events_total", T::kCounter,
           "Of those, events of keys removed when their thread, process or "
           "cgroup ended.");
  e.Family("tally_probe_reclaimed_keys_total", T::kCounter,
           "Keys removed when their thread, process or cgroup ended.");
  e.Family("tally_probe_keys", T::kGauge, "Keys in the probe's key map now.");
  e.Family("tally_probe_max_keys", T::kGauge,
           "The probe's key map's capacity.");
  e.Family("tally_probe_key_events_total", T::kCounter,
           "Events of one key, for the probe's top keys by count (at most "
           "tallyd --metrics_top_keys series per probe).");
  e.Family("tally_probe_other_events", T::kGauge,
           "Events of the probe in no tally_probe_key_events_total series: "
           "keys outside the top, dropped and reclaimed. With those series it "
           "adds up to tally_probe_events_total. A gauge: it drops whenever a "
           "key enters the top.");
  e.Family("tally_probe_uncounted_seconds_total", T::kCounter,
           "Time this incarnation did not count: the agent was down where the "
           "kernel could not keep the probe attached without it.");
  e.Family("tally_probe_bpf_runs_total", T::kCounter,
           "Runs of the probe's BPF programs while the kernel's BPF "
           "statistics were on (program: counter, reclaimer).");
  e.Family("tally_probe_bpf_run_seconds_total", T::kCounter,
           "Time in the probe's BPF programs while the kernel's BPF "
           "statistics were on (program: counter, reclaimer).");
  e.Family("tally_probe_map_bytes", T::kGauge,
           "Memory the kernel charges for the probe's maps.");
  e.Family("tally_metrics_probe_read_errors", T::kGauge,
           "Probes this scrape could not read (their counts are left out).");
  e.Family("tally_metrics_collection_seconds", T::kGauge,
           "How long this scrape took to read every probe.");
}

}  // namespace

MetricsCollector::MetricsCollector(AgentIdentity identity,
                                   std::string kernel_release,
                                   const ProbeManager* manager,
                                   BpfStatsLease* stats, uint32_t top_keys,
                                   absl::Duration keys_max_age, Clock* clock)
    : identity_(std::move(identity)),
      kernel_release_(std::move(kernel_release)),
      manager_(manager),
      stats_(stats),
      top_keys_(top_keys),
      keys_max_age_(keys_max_age),
      clock_(clock) {}

absl::StatusOr<CounterSnapshot> MetricsCollector::ReadProbe(
    const ActiveProbe& p, absl::Time now) {
  if (p.options.group_by == GroupBy::kNone || top_keys_ == 0) {
    return p.counter->Read(0);
  }
  if (auto it = walks_.find(p.id); it != walks_.end()) {
    absl::StatusOr<CounterSnapshot> totals = p.counter->Read(0);
    if (!totals.ok()) return totals.status();
    const CounterSnapshot& last = it->second.counts;
    // Keys change only with events (in the total) or reclaims (in
    // reclaimed): neither moved, the last walk is exact.
    const bool unchanged = totals->total == last.total &&
                           totals->dropped_keys == last.dropped_keys &&
                           totals->reclaimed == last.reclaimed &&
                           totals->reclaimed_keys == last.reclaimed_keys;
    if (unchanged || now - it->second.at < keys_max_age_) {
      totals->top_keys = last.top_keys;
      totals->distinct_keys = last.distinct_keys;
      return totals;
    }
  }
  absl::StatusOr<CounterSnapshot> counts = p.counter->Read(top_keys_);
  if (counts.ok()) walks_[p.id] = KeyWalk{now, *counts};
  return counts;
}

void MetricsCollector::SetWarnings(size_t count) {
  absl::MutexLock lock(&mu_);
  warnings_ = count;
}

void MetricsCollector::SetDeclaredProbes(const DeclaredProbes* declared) {
  absl::MutexLock lock(&mu_);
  declared_ = declared;
}

std::string MetricsCollector::Scrape() {
  stats_->Ask();
  absl::MutexLock scrape_lock(&scrape_mu_);
  const absl::Time began = absl::Now();
  const absl::Time now = clock_->Now();
  std::set<uint64_t> listed_ids;
  Exposition e;
  DeclareFamilies(e);

  e.Add("tally_agent_info",
        {{"version", kAgentVersion},
         {"node", identity_.node},
         {"kernel", kernel_release_},
         {"epoch", identity_.epoch}},
        uint64_t{1});
  e.Add("tally_agent_start_time_seconds", {}, Seconds(identity_.start_time));
  {
    absl::MutexLock lock(&mu_);
    e.Add("tally_agent_warnings", {}, static_cast<uint64_t>(warnings_));
    if (declared_ != nullptr) {
      v1::ProbesFileStatus file;
      declared_->FillStatus(&file);
      const MetricLabels path = {{"path", file.path()}};
      e.Add("tally_probes_file_declared_probes", path,
            static_cast<uint64_t>(file.declared()));
      e.Add("tally_probes_file_last_reload_successful", path,
            uint64_t{file.error().empty() ? 1u : 0u});
      if (file.has_loaded_at()) {
        e.Add("tally_probes_file_last_reload_success_timestamp_seconds", path,
              file.loaded_at().seconds() + file.loaded_at().nanos() / 1e9);
      }
      if (!file.error().empty() && file.has_error_at()) {
        e.Add("tally_probes_file_last_error_timestamp_seconds", path,
              file.error_at().seconds() + file.error_at().nanos() / 1e9);
      }
    }
  }
  const BpfStatsLease::State stats = stats_->state();
  e.Add("tally_bpf_stats_enabled", {}, uint64_t{stats.on ? 1u : 0u});

  std::map<ProbeState, uint64_t> by_state;
  uint64_t read_errors = 0;
  for (const ProbeInfo& info : manager_->Describe()) {
    const ActiveProbe& p = *info.probe;
    ++by_state[info.state];
    const std::string id = absl::StrCat(p.id);
    MetricLabels labels = {{"probe", p.name}};
    if (p.id != 0) labels.push_back({"probe_id", id});
    const bool grouped = p.options.group_by != GroupBy::kNone;
    MetricLabels info_labels = labels;
    info_labels.insert(
        info_labels.end(),
        {{"hook", p.hook},
         {"attached", p.counter != nullptr ? p.attached.ToSpec() : ""},
         {"mechanism", p.counter != nullptr
                           ? std::string(AttachKindName(p.attached.kind))
                           : ""},
         {"group_by", std::string(GroupByName(p.options.group_by))},
         {"state", std::string(ProbeStateName(info.state))},
         {"origin", info.origin}});
    e.Add("tally_probe_info", info_labels, uint64_t{1});
    if (p.counter == nullptr || info.state != ProbeState::kRunning) continue;

    e.Add("tally_probe_start_time_seconds", labels, Seconds(p.started_at));
    listed_ids.insert(p.id);
    // One read of the maps: the totals and, grouped, every key at most once.
    absl::StatusOr<CounterSnapshot> snap = ReadProbe(p, now);
    if (!snap.ok()) {
      LOG(WARNING) << "metrics: reading probe " << p.name
                   << " failed: " << snap.status();
      ++read_errors;
      continue;
    }
    e.Add("tally_probe_events_total", labels, snap->total);
    absl::Duration uncounted;
    for (const UncountedWindow& w : p.uncounted) uncounted += w.to - w.from;
    e.Add("tally_probe_uncounted_seconds_total", labels,
          absl::ToDoubleSeconds(uncounted));
    if (grouped) {
      e.Add("tally_probe_dropped_key_events_total", labels,
            snap->dropped_keys);
      e.Add("tally_probe_reclaimed_events_total", labels, snap->reclaimed);
      e.Add("tally_probe_reclaimed_keys_total", labels, snap->reclaimed_keys);
      if (top_keys_ > 0) {
        e.Add("tally_probe_keys", labels, snap->distinct_keys);
      }
      e.Add("tally_probe_max_keys", labels,
            static_cast<uint64_t>(p.options.max_keys));
      uint64_t listed = 0;
      for (const KeyCount& k : snap->top_keys) {
        MetricLabels key_labels = labels;
        key_labels.push_back({"key", k.key});
        e.Add("tally_probe_key_events_total", key_labels, k.count);
        listed += k.count;
      }
      // Keys are read before the totals, so they never exceed them.
      e.Add("tally_probe_other_events", labels,
            snap->total - std::min(listed, snap->total));
    }
    absl::StatusOr<CounterCost> cost = p.counter->Cost();
    if (!cost.ok()) {
      VLOG(1) << "metrics: probe " << p.name << ": no cost: " << cost.status();
      continue;
    }
    e.Add("tally_probe_map_bytes", labels, cost->map_bytes);
    const std::pair<const char*, std::pair<uint64_t, absl::Duration>>
        programs[] = {{"counter", {cost->runs, cost->run_time}},
                      {"reclaimer",
                       {cost->reclaimer_runs, cost->reclaimer_run_time}}};
    for (const auto& [program, figures] : programs) {
      // Groupings whose keys never end have no reclaimer.
      if (std::string_view(program) == "reclaimer" &&
          !(p.options.group_by == GroupBy::kPid ||
            p.options.group_by == GroupBy::kTgid ||
            p.options.group_by == GroupBy::kCgroup)) {
        continue;
      }
      MetricLabels program_labels = labels;
      program_labels.push_back({"program", program});
      e.Add("tally_probe_bpf_runs_total", program_labels, figures.first);
      e.Add("tally_probe_bpf_run_seconds_total", program_labels,
            absl::ToDoubleSeconds(figures.second));
    }
  }
  for (auto it = walks_.begin(); it != walks_.end();) {
    it = listed_ids.count(it->first) ? std::next(it) : walks_.erase(it);
  }
  for (ProbeState state : kStates) {
    e.Add("tally_probes", {{"state", std::string(ProbeStateName(state))}},
          by_state[state]);
  }
  e.Add("tally_metrics_probe_read_errors", {}, read_errors);
  e.Add("tally_metrics_collection_seconds", {},
        absl::ToDoubleSeconds(absl::Now() - began));
  return e.Render();
}

}  // namespace tally
