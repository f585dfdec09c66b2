#include "agent/daemon/probes_file.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "agent/daemon/request_validation.h"
#include "agent/daemon/yaml_proto.h"
#include "tally/v1/agent.pb.h"
#include "tally/v1/probes_file.pb.h"

namespace tally {

absl::StatusOr<std::vector<DeclaredConfig>> ParseProbesFile(
    const std::string& text, const std::string& file, const AgentLimits& limits,
    const std::string& node, const HostPids& host_pids) {
  v1::ProbesFile parsed;
  std::map<std::string, int> lines;
  if (absl::Status s = ParseYamlInto(text, file, &parsed, &lines); !s.ok()) {
    return s;
  }
  std::vector<DeclaredConfig> out;
  std::map<std::string, int> declared_at;
  for (int i = 0; i < parsed.probes_size(); ++i) {
    const v1::DeclaredProbe& d = parsed.probes(i);
    const std::string path = absl::StrCat("probes[", i, "]");
    const int line = lines[path];
    // Same field numbers and types: a declared probe is a StartProbeRequest
    // (`optional` is a field the request does not have).
    v1::StartProbeRequest request;
    request.ParseFromString(d.SerializeAsString());
    absl::StatusOr<ProbeConfig> config =
        ValidateStartRequest(request, limits, node, host_pids);
    if (!config.ok()) {
      return absl::Status(config.status().code(),
                          absl::StrCat(file, ":", line, ": ", path, ": ",
                                       config.status().message()));
    }
    auto [it, inserted] = declared_at.emplace(config->name, line);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ":", line, ": ", path, ": probe '", config->name,
                       "' is already declared at line ", it->second));
    }
    out.push_back({*std::move(config), d.optional(), line});
  }
  return out;
}

}  // namespace tally
