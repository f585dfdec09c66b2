#include "client/status_rollup.h"

#include <map>
#include <set>

namespace tally::cli {

std::vector<v1::StatusLine> RollUp(const std::vector<NodeReport>& reports) {
  // Probe name -> its line; node -> the probe as that node has it.
  std::map<std::string, v1::StatusLine> lines;
  std::map<std::string, std::map<size_t, const v1::Probe*>> where;
  for (size_t i = 0; i < reports.size(); ++i) {
    if (!reports[i].error.empty()) continue;
    for (const v1::Probe& p : reports[i].probes.probes()) {
      v1::StatusLine& line = lines[p.name()];
      line.set_kind(v1::StatusLine::PROBE);
      line.set_probe(p.name());
      if (line.origin().empty()) line.set_origin(p.origin());
      where[p.name()][i] = &p;
    }
  }
  std::vector<v1::StatusLine> out;
  for (auto& [name, line] : lines) {
    for (size_t i = 0; i < reports.size(); ++i) {
      if (!reports[i].error.empty()) continue;
      auto it = where[name].find(i);
      if (it != where[name].end() &&
          it->second->state() == v1::PROBE_STATE_RUNNING) {
        line.set_running(line.running() + 1);
        continue;
      }
      v1::NodeProbeState* n = line.add_not_running();
      n->set_node(reports[i].node);
      if (it == where[name].end()) {
        line.set_missing(line.missing() + 1);
        n->set_reason("not on this node");
        continue;
      }
      const v1::Probe& p = *it->second;
      n->set_state(p.state());
      n->set_reason(p.error());
      switch (p.state()) {
        case v1::PROBE_STATE_SKIPPED:
          line.set_skipped(line.skipped() + 1);
          break;
        case v1::PROBE_STATE_EXPIRED:
          line.set_expired(line.expired() + 1);
          break;
        default:
          line.set_failed(line.failed() + 1);
      }
    }
    out.push_back(std::move(line));
  }
  for (const NodeReport& r : reports) {
    if (!r.error.empty() || r.info.probes_file().error().empty()) continue;
    v1::StatusLine& line = out.emplace_back();
    line.set_kind(v1::StatusLine::FILE_ERROR);
    line.set_node(r.node);
    line.set_agent(r.agent);
    line.set_error(r.info.probes_file().error());
  }
  for (const NodeReport& r : reports) {
    if (r.error.empty()) continue;
    v1::StatusLine& line = out.emplace_back();
    line.set_kind(v1::StatusLine::UNREACHABLE);
    line.set_agent(r.agent);
    line.set_error(r.error);
  }
  return out;
}

}  // namespace tally::cli
