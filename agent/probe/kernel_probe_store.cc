#include "agent/probe/kernel_probe_store.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/probe/bpf_counter.h"
#include "agent/probe/hook_resolver.h"
#include "agent/probe/kernel_symbols.h"
#include "agent/probe/pinned_record.h"
#include "bpf/counter.h"
#include "common/status_macros.h"

namespace tally {
namespace {

PinnedRecord Pinned(const ProbeRecord& record, bool links_pinned) {
  PinnedRecord p;
  p.record = record;
  p.layout_version = TALLY_MAP_LAYOUT_VERSION;
  p.object_id = CounterObjectId();
  p.links_pinned = links_pinned;
  return p;
}

}  // namespace

absl::StatusOr<OpenedCounter> KernelProbeStore::Open(const HookSpec& hook,
                                                     ProbeRecord* record) {
  std::unique_ptr<KernelSymbols> symbols = NewKernelSymbols();
  ASSIGN_OR_RETURN(ResolvedHook resolved,
                   ResolveHook(hook, *features_, *symbols));
  record->attached = resolved.point;
  record->note = resolved.note;
  if (pins_ == nullptr) {
    ASSIGN_OR_RETURN(
        std::unique_ptr<BpfCounter> counter,
        BpfCounter::Create(resolved.point, record->options, read_options_));
    return OpenedCounter{std::move(counter), resolved.point, resolved.note};
  }
  // Assembled aside and renamed into place: a probe directory is complete.
  ASSIGN_OR_RETURN(std::string dir, pins_->NewProbeDir());
  absl::StatusOr<std::unique_ptr<BpfCounter>> counter = BpfCounter::Create(
      resolved.point, record->options, read_options_, CounterPins{dir, false});
  absl::Status kept = counter.status();
  if (kept.ok()) {
    kept = PinRoot::WriteRecord(
        dir, SerializePinned(Pinned(*record, (*counter)->links_pinned())));
  }
  if (kept.ok()) kept = pins_->Commit(dir, record->name);
  if (!kept.ok()) {
    if (counter.ok()) (*counter)->Detach();
    (void)RemovePinTree(dir);
    return kept;
  }
  (*counter)->SetPinDir(pins_->ProbeDir(record->name));
  return OpenedCounter{*std::move(counter), resolved.point, resolved.note};
}

absl::Status KernelProbeStore::Update(const ProbeRecord& record) {
  if (pins_ == nullptr) return absl::OkStatus();
  const std::string dir = pins_->ProbeDir(record.name);
  ASSIGN_OR_RETURN(std::string bytes, PinRoot::ReadRecord(dir));
  ASSIGN_OR_RETURN(PinnedRecord old, ParsePinned(bytes));
  PinnedRecord updated = Pinned(record, old.links_pinned);
  updated.ended = old.ended;
  return PinRoot::WriteRecord(dir, SerializePinned(updated));
}

absl::Status KernelProbeStore::Retire(const ProbeRecord& record) {
  if (pins_ == nullptr) return absl::OkStatus();
  (void)pins_->Remove(record.name);
  ASSIGN_OR_RETURN(std::string dir, pins_->NewProbeDir());
  PinnedRecord ended = Pinned(record, false);
  ended.ended = true;
  absl::Status kept = PinRoot::WriteRecord(dir, SerializePinned(ended));
  if (kept.ok()) kept = pins_->Commit(dir, record.name);
  if (!kept.ok()) (void)RemovePinTree(dir);
  return kept;
}

absl::Status KernelProbeStore::Remove(const std::string& name) {
  if (pins_ == nullptr) return absl::OkStatus();
  return pins_->Remove(name);
}

void KernelProbeStore::MarkAlive(absl::Time now) {
  if (pins_ != nullptr) pins_->MarkAlive(now);
}

Adoption KernelProbeStore::AdoptAll() {
  Adoption out;
  if (pins_ == nullptr) return out;
  PinRoot::Listing listing = pins_->List();
  out.warnings = std::move(listing.warnings);
  const absl::Time now = absl::Now();
  const absl::Time last_alive = pins_->LastAlive();
  for (const std::string& name : listing.probes) {
    out.probes.push_back(Adopt(name, now, last_alive));
  }
  return out;
}

AdoptedProbe KernelProbeStore::Adopt(const std::string& name, absl::Time now,
                                     absl::Time last_alive) {
  AdoptedProbe a;
  const std::string dir = pins_->ProbeDir(name);
  absl::StatusOr<std::string> bytes = PinRoot::ReadRecord(dir);
  absl::StatusOr<PinnedRecord> pinned =
      bytes.ok() ? ParsePinned(*bytes)
                 : absl::StatusOr<PinnedRecord>(bytes.status());
  if (!pinned.ok()) {
    a.record.name = name;
    a.problem = pinned.status();
    return a;
  }
  a.record = pinned->record;
  if (pinned->ended) {
    a.ended = true;
    return a;
  }
  if (pinned->layout_version != TALLY_MAP_LAYOUT_VERSION) {
    // Never read maps of another layout: start it afresh, and say so.
    a.must_reopen = true;
    a.continuity = absl::StrCat(
        "counts restarted: its maps have layout ", pinned->layout_version,
        " and this agent reads layout ", TALLY_MAP_LAYOUT_VERSION);
    (void)pins_->Remove(name);
    return a;
  }
  absl::StatusOr<std::unique_ptr<BpfCounter>> adopted = BpfCounter::Adopt(
      dir, a.record.attached, a.record.options, read_options_);
  if (adopted.ok()) {
    a.counter = *std::move(adopted);
    a.continuity =
        "counted throughout: its link stayed pinned while no "
        "agent ran";
    return a;
  }
  if (!absl::IsNotFound(adopted.status())) {
    a.problem = adopted.status();
    return a;
  }
  // The kernel could not pin this kind of link: a fresh program on the
  // same maps; nothing counted from the last sign of life until now.
  absl::StatusOr<std::unique_ptr<BpfCounter>> fresh =
      BpfCounter::Create(a.record.attached, a.record.options, read_options_,
                         CounterPins{dir, /*reuse_maps=*/true});
  if (!fresh.ok()) {
    a.problem = absl::Status(
        fresh.status().code(),
        absl::StrCat("attaching it again to its pinned maps failed: ",
                     fresh.status().message()));
    return a;
  }
  UncountedWindow gap;
  gap.from =
      last_alive == absl::InfinitePast() ? a.record.started_at : last_alive;
  gap.to = now;
  gap.reason = absl::StrCat("no agent ran and this kernel cannot pin ",
                            AttachKindName(a.record.attached.kind),
                            " links (Linux 5.15 can)");
  a.record.uncounted.push_back(gap);
  a.continuity =
      "re-attached to its pinned maps; the counts go on, but "
      "not what happened while no agent ran (see uncounted)";
  (*fresh)->SetPinDir(dir);
  (void)PinRoot::WriteRecord(
      dir, SerializePinned(Pinned(a.record, (*fresh)->links_pinned())));
  a.counter = *std::move(fresh);
  return a;
}

}  // namespace tally
