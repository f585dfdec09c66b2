#include "agent/probe/pin_root.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "agent/probe/privileges.h"
#include "common/status_macros.h"

namespace tally {
namespace {

namespace fs = std::filesystem;

constexpr char kBpffs[] = "/sys/fs/bpf";
constexpr char kAliveMap[] = "alive";
constexpr char kRecordMap[] = "meta";
constexpr char kNewPrefix[] = "+new-";
// A record is the length (4 bytes) then the bytes: an uprobe hook with a
// PATH_MAX path and a few dozen uncounted windows fit.
constexpr uint32_t kRecordBytes = 16 * 1024;

bool OnBpffs(const std::string& path) {
  struct statfs st;
  return statfs(path.c_str(), &st) == 0 &&
         static_cast<uint32_t>(st.f_type) == BPF_FS_MAGIC;
}

absl::Status EnsureBpffs(const std::string& root) {
  // The nearest existing ancestor decides which filesystem `root` is on.
  fs::path p(root);
  std::error_code ec;
  while (!p.empty() && p != p.root_path() && !fs::exists(p, ec)) {
    p = p.parent_path();
  }
  if (OnBpffs(p.string())) return absl::OkStatus();
  if (absl::StartsWith(root, kBpffs) && p == fs::path(kBpffs)) {
    if (mount("bpf", kBpffs, "bpf", 0, "mode=0700") == 0) {
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "bpffs is not mounted at ", kBpffs, " and mounting it failed (",
        ErrnoName(errno), "): run `mount -t bpf bpf ", kBpffs,
        "` (systemd does at boot; the DaemonSet mounts the host's)"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("--pin_dir=", root, " is not on a bpffs mount (", p.string(),
                   " is not bpf): use a directory under ", kBpffs));
}

absl::StatusOr<ScopedFd> CreateArrayMap(const char* name, uint32_t value_size) {
  int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(uint32_t),
                          value_size, 1, nullptr);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("creating the ", name, " map failed: ", ErrnoName(errno)));
  }
  return ScopedFd(fd);
}

}  // namespace

absl::Status PinFd(int fd, const std::string& path) {
  if (bpf_obj_pin(fd, path.c_str()) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("pinning ", path, " failed: ", ErrnoName(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ScopedFd> OpenPinned(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("opening ", path, " failed: ", ErrnoName(errno)));
  }
  return ScopedFd(fd);
}

absl::Status RemovePinTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);  // unlinking a pin unpins it
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("removing ", path, " failed: ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PinRoot>> PinRoot::Open(
    const std::string& root) {
  RETURN_IF_ERROR(EnsureBpffs(root));
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("creating ", root, " failed: ", ec.message()));
  }
  ScopedFd lock(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!lock.valid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("opening ", root, " failed: ", ErrnoName(errno)));
  }
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("another tallyd keeps its probes in ", root,
                     "; stop it first, or give this agent its own --pin_dir"));
  }
  const std::string alive_path = absl::StrCat(root, "/", kAliveMap);
  absl::StatusOr<ScopedFd> alive = OpenPinned(alive_path);
  if (!alive.ok()) {
    ASSIGN_OR_RETURN(alive, CreateArrayMap("tally_alive", sizeof(uint64_t)));
    RETURN_IF_ERROR(PinFd(alive->get(), alive_path));
  }
  return std::unique_ptr<PinRoot>(
      new PinRoot(root, std::move(lock), *std::move(alive)));
}

std::string PinRoot::ProbeDir(const std::string& name) const {
  return absl::StrCat(path_, "/", absl::StrReplaceAll(name, {{".", "+"}}));
}

std::string PinRoot::NameOfDir(const std::string& dir_name) {
  return absl::StrReplaceAll(dir_name, {{"+", "."}});
}

absl::StatusOr<std::string> PinRoot::NewProbeDir() {
  uint64_t id = 0;
  if (getrandom(&id, sizeof(id), 0) != sizeof(id)) id = getpid();
  std::string dir = absl::StrFormat("%s/%s%016x", path_, kNewPrefix, id);
  if (mkdir(dir.c_str(), 0700) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("creating ", dir, " failed: ", ErrnoName(errno)));
  }
  return dir;
}

absl::Status PinRoot::Commit(const std::string& new_dir,
                             const std::string& name) {
  const std::string dir = ProbeDir(name);
  // renameat2(RENAME_NOREPLACE) is not offered on bpffs; the lock makes
  // this agent the only writer, so a plain check suffices.
  if (access(dir.c_str(), F_OK) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " already exists: a probe of that name is pinned"));
  }
  if (rename(new_dir.c_str(), dir.c_str()) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "renaming ", new_dir, " to ", dir, " failed: ", ErrnoName(errno)));
  }
  return absl::OkStatus();
}

PinRoot::Listing PinRoot::List() {
  Listing out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(path_, ec)) {
    const std::string base = entry.path().filename().string();
    if (base == kAliveMap) continue;
    if (absl::StartsWith(base, kNewPrefix)) {
      // An agent died while pinning it: nothing refers to it.
      (void)RemovePinTree(entry.path().string());
      out.warnings.push_back(absl::StrCat(
          "removed ", entry.path().string(),
          ": a probe half-pinned by an agent that died while starting it"));
      continue;
    }
    if (!entry.is_directory(ec) || !ReadRecord(entry.path().string()).ok()) {
      out.warnings.push_back(
          absl::StrCat("left ", entry.path().string(),
                       " alone: tally did not write it (no readable ",
                       kRecordMap, " record)"));
      continue;
    }
    out.probes.push_back(NameOfDir(base));
  }
  return out;
}

absl::Status PinRoot::Remove(const std::string& name) {
  return RemovePinTree(ProbeDir(name));
}

absl::Status PinRoot::RemoveAll(std::vector<std::string>* removed) {
  Listing listing = List();
  for (const std::string& name : listing.probes) {
    RETURN_IF_ERROR(Remove(name));
    removed->push_back(name);
  }
  // Only what tally wrote goes: a mistyped --pin_dir (say /sys/fs/bpf
  // itself) must never take another tool's pins with it.
  (void)unlink(absl::StrCat(path_, "/", kAliveMap).c_str());
  if (rmdir(path_.c_str()) == 0) return absl::OkStatus();
  const int err = errno;
  std::vector<std::string> left;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(path_, ec)) {
    left.push_back(entry.path().filename().string());
  }
  std::sort(left.begin(), left.end());
  constexpr size_t kNamed = 5;
  std::string named = absl::StrJoin(
      left.begin(), left.begin() + std::min(left.size(), kNamed), ", ");
  if (left.size() > kNamed) {
    absl::StrAppend(&named, " and ", left.size() - kNamed, " more");
  }
  if (left.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "removing ", path_, " failed: ", ErrnoName(err)));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "left ", path_, " in place: it holds ", left.size(),
      " entr", left.size() == 1 ? "y" : "ies", " tally did not write (",
      named, "); remove them yourself if no other tool uses them"));
}

absl::Status PinRoot::WriteRecord(const std::string& dir,
                                  const std::string& bytes) {
  if (bytes.size() + sizeof(uint32_t) > kRecordBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the probe's record is ", bytes.size(), " bytes; at most ",
                     kRecordBytes - sizeof(uint32_t)));
  }
  const std::string path = absl::StrCat(dir, "/", kRecordMap);
  absl::StatusOr<ScopedFd> map = OpenPinned(path);
  if (!map.ok()) {
    ASSIGN_OR_RETURN(map, CreateArrayMap("tally_meta", kRecordBytes));
    RETURN_IF_ERROR(PinFd(map->get(), path));
  }
  std::string value(kRecordBytes, '\0');
  const uint32_t len = static_cast<uint32_t>(bytes.size());
  std::memcpy(value.data(), &len, sizeof(len));
  std::memcpy(value.data() + sizeof(len), bytes.data(), bytes.size());
  const uint32_t key = 0;
  if (bpf_map_update_elem(map->get(), &key, value.data(), BPF_ANY) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("writing ", path, " failed: ", ErrnoName(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PinRoot::ReadRecord(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kRecordMap);
  ASSIGN_OR_RETURN(ScopedFd map, OpenPinned(path));
  bpf_map_info info = {};
  uint32_t info_len = sizeof(info);
  if (bpf_obj_get_info_by_fd(map.get(), &info, &info_len) != 0 ||
      info.type != BPF_MAP_TYPE_ARRAY || info.value_size != kRecordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a tally record"));
  }
  std::string value(kRecordBytes, '\0');
  const uint32_t key = 0;
  if (bpf_map_lookup_elem(map.get(), &key, value.data()) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("reading ", path, " failed: ", ErrnoName(errno)));
  }
  uint32_t len = 0;
  std::memcpy(&len, value.data(), sizeof(len));
  if (len == 0 || len > kRecordBytes - sizeof(len)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds no record"));
  }
  return value.substr(sizeof(len), len);
}

void PinRoot::MarkAlive(absl::Time now) {
  const uint32_t key = 0;
  const uint64_t nanos = static_cast<uint64_t>(absl::ToUnixNanos(now));
  (void)bpf_map_update_elem(alive_.get(), &key, &nanos, BPF_ANY);
}

absl::Time PinRoot::LastAlive() const {
  const uint32_t key = 0;
  uint64_t nanos = 0;
  if (bpf_map_lookup_elem(alive_.get(), &key, &nanos) != 0 || nanos == 0) {
    return absl::InfinitePast();
  }
  return absl::FromUnixNanos(static_cast<int64_t>(nanos));
}

}  // namespace tally
