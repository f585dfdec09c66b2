// Fuzzes request validation with arbitrary StartProbeRequest and
// WatchCountsRequest messages: every rejection is one of the codes the API
// promises, with a short UTF-8 message; every acceptance is within limits.
#include <cstddef>
#include <cstdint>

#include "agent/daemon/host_pids.h"
#include "agent/daemon/limits.h"
#include "agent/daemon/probe_manager.h"
#include "agent/daemon/request_validation.h"
#include "common/clock.h"
#include "common/probe_name.h"
#include "tally/v1/agent.pb.h"
#include "tests/fuzz/fuzz_checks.h"

namespace {

class NoStore : public tally::ProbeStore {
 public:
  absl::StatusOr<tally::OpenedCounter> Open(const tally::HookSpec&,
                                            tally::ProbeRecord*) override {
    return absl::InternalError("not in a fuzz run");
  }
  absl::Status Update(const tally::ProbeRecord&) override {
    return absl::OkStatus();
  }
  absl::Status Remove(const std::string&) override { return absl::OkStatus(); }
  absl::Status Retire(const tally::ProbeRecord&) override {
    return absl::OkStatus();
  }
  tally::Adoption AdoptAll() override { return {}; }
  void MarkAlive(absl::Time) override {}
  bool durable() const override { return false; }
};

bool Promised(absl::StatusCode code) {
  return code == absl::StatusCode::kInvalidArgument ||
         code == absl::StatusCode::kNotFound ||
         code == absl::StatusCode::kFailedPrecondition;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const tally::AgentLimits limits;
  static const tally::HostPids host_pids("/proc");
  // A manager with no probes whose store is never asked: validation only.
  static NoStore store;
  static tally::ProbeManager* manager =
      new tally::ProbeManager(&store, limits, tally::Clock::Real());

  // The first byte picks the message; the rest is its wire encoding.
  if (size == 0) return 0;
  const bool watch = data[0] & 1;
  const char* bytes = reinterpret_cast<const char*>(data + 1);
  if (watch) {
    tally::v1::WatchCountsRequest request;
    if (!request.ParseFromArray(bytes, static_cast<int>(size - 1))) return 0;
    absl::StatusOr<tally::WatchSpec> spec =
        tally::ValidateWatchRequest(request, limits, "node", *manager);
    if (!spec.ok()) {
      TALLY_FUZZ_CHECK(Promised(spec.status().code()));
      tally::fuzz::CheckMessage(spec.status());
      return 0;
    }
    TALLY_FUZZ_CHECK(spec->interval >= limits.min_interval);
    TALLY_FUZZ_CHECK(spec->top_n <= limits.max_top_n);
    return 0;
  }
  tally::v1::StartProbeRequest request;
  if (!request.ParseFromArray(bytes, static_cast<int>(size - 1))) return 0;
  absl::StatusOr<tally::ProbeConfig> config =
      tally::ValidateStartRequest(request, limits, "node", host_pids);
  if (!config.ok()) {
    TALLY_FUZZ_CHECK(Promised(config.status().code()));
    tally::fuzz::CheckMessage(config.status());
    return 0;
  }
  TALLY_FUZZ_CHECK(tally::ValidateProbeName(config->name).ok());
  TALLY_FUZZ_CHECK(config->options.max_keys >= 1 &&
                   config->options.max_keys <= limits.max_keys);
  TALLY_FUZZ_CHECK(config->ttl >= absl::ZeroDuration());
  return 0;
}
