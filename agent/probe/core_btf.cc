#include "agent/probe/core_btf.h"

#include <bpf/btf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace tally {
namespace {

using BtfPtr = std::unique_ptr<btf, decltype(&btf__free)>;

// The fields bpf/counter.bpf.c reads with CO-RE. core_btf_test checks every
// CO-RE relocation in the object against what BuildCoreBtf() writes.
constexpr const char* kStruct = "task_struct";
constexpr const char* kLeaderField = "group_leader";
constexpr const char* kCommField = "comm";

// Finds member `name` of struct `type_id`, descending into anonymous
// structs and unions (randomized layouts wrap fields in one). Returns the
// member's bit offset from the start of the outer struct, or -1.
int64_t FindField(const btf* b, uint32_t type_id, const char* name,
                  uint32_t* member_type) {
  const btf_type* t = btf__type_by_id(b, type_id);
  if (t == nullptr || !(btf_is_struct(t) || btf_is_union(t))) return -1;
  const btf_member* m = btf_members(t);
  for (int i = 0; i < btf_vlen(t); ++i, ++m) {
    const char* mname = btf__name_by_offset(b, m->name_off);
    int64_t off = btf_member_bit_offset(t, i);
    if (mname != nullptr && std::string(mname) == name) {
      *member_type = m->type;
      return off;
    }
    if (mname == nullptr || *mname == '\0') {
      int64_t inner = FindField(b, m->type, name, member_type);
      if (inner >= 0) return off + inner;
    }
  }
  return -1;
}

}  // namespace

absl::StatusOr<std::string> BuildCoreBtf(const std::string& vmlinux_btf_path) {
  BtfPtr vmlinux(vmlinux_btf_path.empty()
                     ? btf__load_vmlinux_btf()
                     : btf__parse(vmlinux_btf_path.c_str(), nullptr),
                 &btf__free);
  if (vmlinux == nullptr) {
    return absl::NotFoundError("cannot read the kernel's BTF");
  }
  int task = btf__find_by_name_kind(vmlinux.get(), kStruct, BTF_KIND_STRUCT);
  if (task < 0) return absl::NotFoundError("the kernel BTF has no task_struct");
  uint32_t leader_type = 0, comm_type = 0;
  int64_t leader_off =
      FindField(vmlinux.get(), task, kLeaderField, &leader_type);
  int64_t comm_off = FindField(vmlinux.get(), task, kCommField, &comm_type);
  if (leader_off < 0 || comm_off < 0) {
    return absl::NotFoundError("task_struct lacks group_leader or comm");
  }
  const btf_type* comm = btf__type_by_id(vmlinux.get(), comm_type);
  if (comm == nullptr || !btf_is_array(comm)) {
    return absl::NotFoundError("task_struct.comm is not an array");
  }
  const uint32_t comm_len = btf_array(comm)->nelems;
  const uint32_t task_size = btf__type_by_id(vmlinux.get(), task)->size;

  // The same shape bpftool gen min_core_btf produces.
  BtfPtr out(btf__new_empty(), &btf__free);
  int ch = btf__add_int(out.get(), "char", 1, 0);
  int in = btf__add_int(out.get(), "int", 4, BTF_INT_SIGNED);
  int st = btf__add_struct(out.get(), kStruct, task_size);
  int err = 0;
  // Fields may name types added next: the pointer (st+1) and array (st+2).
  err |= btf__add_field(out.get(), kLeaderField, st + 1, leader_off, 0);
  err |= btf__add_field(out.get(), kCommField, st + 2, comm_off, 0);
  int ptr = btf__add_ptr(out.get(), st);
  int arr = btf__add_array(out.get(), in, ch, comm_len);
  if (ch < 0 || in < 0 || st < 0 || err != 0 || ptr != st + 1 ||
      arr != st + 2) {
    return absl::InternalError("building the minimal BTF failed");
  }
  uint32_t size = 0;
  const void* raw = btf__raw_data(out.get(), &size);
  if (raw == nullptr) return absl::InternalError("serializing BTF failed");
  return std::string(static_cast<const char*>(raw), size);
}

const std::string& CoreBtfPath() {
  static const std::string* path = [] {
    absl::StatusOr<std::string> data = BuildCoreBtf("");
    if (!data.ok()) {
      LOG(WARNING) << "no minimal CO-RE BTF (" << data.status()
                   << "); each load parses the full kernel BTF";
      return new std::string();
    }
    int fd = memfd_create("tally-core-btf", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data->data(), data->size()) !=
                      static_cast<ssize_t>(data->size())) {
      LOG(WARNING) << "cannot write the minimal CO-RE BTF; using full BTF";
      if (fd >= 0) close(fd);
      return new std::string();
    }
    // The fd stays open for the life of the process.
    return new std::string(absl::StrCat("/proc/self/fd/", fd));
  }();
  return *path;
}

}  // namespace tally
