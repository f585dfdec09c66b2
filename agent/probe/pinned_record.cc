#include "agent/probe/pinned_record.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bpf/counter.skel.h"
#include "common/api_convert.h"
#include "tally/internal/pinned_probe.pb.h"

namespace tally {

const std::string& CounterObjectId() {
  static const std::string* id = [] {
    // FNV-1a over the embedded object: tells builds apart, nothing more.
    size_t size = 0;
    const auto* bytes =
        static_cast<const uint8_t*>(counter_bpf::elf_bytes(&size));
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; ++i) {
      h = (h ^ bytes[i]) * 1099511628211ull;
    }
    return new std::string(absl::StrFormat("fnv1a64:%016x", h));
  }();
  return *id;
}

std::string SerializePinned(const PinnedRecord& pinned) {
  const ProbeRecord& r = pinned.record;
  internal::PinnedProbe p;
  p.set_layout_version(pinned.layout_version);
  p.set_object_id(pinned.object_id);
  p.set_links_pinned(pinned.links_pinned);
  p.set_ended(pinned.ended);
  p.set_name(r.name);
  p.set_hook(r.hook);
  p.set_attached(r.attached.ToSpec());
  p.set_note(r.note);
  p.set_group_by(static_cast<uint32_t>(r.options.group_by));
  p.set_tgid(r.options.tgid);
  p.set_cgroup_id(r.options.cgroup_id);
  p.set_max_keys(r.options.max_keys);
  p.set_probe_id(r.probe_id);
  ToProto(r.started_at, p.mutable_started_at());
  if (r.ttl > absl::ZeroDuration()) {
    ToProto(r.ttl, p.mutable_ttl());
    ToProto(r.expires_at, p.mutable_expires_at());
  }
  p.set_origin(r.origin);
  p.set_final_total(r.final_total);
  for (const UncountedWindow& w : r.uncounted) {
    internal::Window* out = p.add_uncounted();
    ToProto(w.from, out->mutable_from());
    ToProto(w.to, out->mutable_to());
    out->set_reason(w.reason);
  }
  return p.SerializeAsString();
}

absl::StatusOr<PinnedRecord> ParsePinned(const std::string& bytes) {
  internal::PinnedProbe p;
  if (!p.ParseFromString(bytes) || p.name().empty()) {
    return absl::InvalidArgumentError("not a tally probe record");
  }
  PinnedRecord out;
  out.layout_version = p.layout_version();
  out.object_id = p.object_id();
  out.links_pinned = p.links_pinned();
  out.ended = p.ended();
  ProbeRecord& r = out.record;
  r.name = p.name();
  r.hook = p.hook();
  absl::StatusOr<HookSpec> attached = ParseHookSpec(p.attached());
  if (!attached.ok() || !attached->point) {
    return absl::InvalidArgumentError(
        absl::StrCat("probe ", p.name(), ": its attach point '", p.attached(),
                     "' does not parse"));
  }
  r.attached = *attached->point;
  r.note = p.note();
  r.options.group_by = static_cast<GroupBy>(p.group_by());
  r.options.tgid = p.tgid();
  r.options.cgroup_id = p.cgroup_id();
  r.options.max_keys = p.max_keys();
  r.probe_id = p.probe_id();
  r.started_at = FromProto(p.started_at());
  if (p.has_ttl()) {
    r.ttl = FromProto(p.ttl());
    r.expires_at = FromProto(p.expires_at());
  }
  r.origin = p.origin();
  r.final_total = p.final_total();
  for (const internal::Window& w : p.uncounted()) {
    r.uncounted.push_back({FromProto(w.from()), FromProto(w.to()), w.reason()});
  }
  return out;
}

}  // namespace tally
