#include "agent/probe/core_btf.h"

#include <bpf/btf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace tally {
namespace {

using BtfPtr = std::unique_ptr<btf, decltype(&btf__free)>;

// The fields bpf/counter.bpf.c reads with CO-RE, struct by struct.
// core_btf_test checks every CO-RE relocation in the object against what
// BuildCoreBtf() writes.
struct StructFields {
  const char* name;
  std::vector<const char*> fields;
};
const std::vector<StructFields>& CoreFields() {
  static const auto* fields = new std::vector<StructFields>{
      // The process name through the group leader; the ids of a freed task.
      {"task_struct", {"group_leader", "comm", "pid", "tgid"}},
      // A removed cgroup's id.
      {"cgroup", {"kn"}},
      {"kernfs_node", {"id"}},
  };
  return *fields;
}

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

// Typedefs and qualifiers stripped, as CO-RE compares field types.
const btf_type* Resolve(const btf* b, uint32_t* id) {
  const btf_type* t = btf__type_by_id(b, *id);
  while (t != nullptr && (btf_is_mod(t) || btf_is_typedef(t))) {
    *id = t->type;
    t = btf__type_by_id(b, *id);
  }
  return t;
}

// The types the minimal BTF holds after its structs, deduplicated; ids are
// known before anything is added (structs first, 1..N, then these), so
// fields may name types added later.
class TypePlan {
 public:
  explicit TypePlan(uint32_t first_id) : first_id_(first_id) {}

  int Int(const std::string& name, uint32_t size, uint32_t encoding) {
    return Intern(absl::StrCat("int ", name), {Kind::kInt, name, size,
                                               encoding, 0, 0, 0});
  }
  int Ptr(uint32_t target) {
    return Intern(absl::StrCat("ptr ", target),
                  {Kind::kPtr, "", 0, 0, target, 0, 0});
  }
  int Array(uint32_t elem, uint32_t index, uint32_t n) {
    return Intern(absl::StrCat("arr ", elem, " ", index, " ", n),
                  {Kind::kArray, "", 0, 0, elem, index, n});
  }

  // Adds the planned types, in id order.
  bool AddTo(btf* out) const {
    for (const Type& t : types_) {
      int id = -1;
      switch (t.kind) {
        case Kind::kInt:
          id = btf__add_int(out, t.name.c_str(), t.size, t.encoding);
          break;
        case Kind::kPtr:
          id = btf__add_ptr(out, t.ref);
          break;
        case Kind::kArray:
          id = btf__add_array(out, t.index, t.ref, t.n);
          break;
      }
      if (id < 0) return false;
    }
    return true;
  }

 private:
  enum class Kind { kInt, kPtr, kArray };
  struct Type {
    Kind kind;
    std::string name;
    uint32_t size, encoding, ref, index, n;
  };
  int Intern(const std::string& key, Type type) {
    auto [it, added] = ids_.emplace(key, first_id_ + types_.size());
    if (added) types_.push_back(std::move(type));
    return it->second;
  }

  uint32_t first_id_;
  std::map<std::string, int> ids_;
  std::vector<Type> types_;
};

BtfPtr LoadBtf(const std::string& vmlinux_btf_path) {
  return BtfPtr(vmlinux_btf_path.empty()
                    ? btf__load_vmlinux_btf()
                    : btf__parse(vmlinux_btf_path.c_str(), nullptr),
                &btf__free);
}

absl::StatusOr<std::string> BuildFrom(const btf* b) {
  const std::vector<StructFields>& wanted = CoreFields();
  // Our struct ids: 1..N in CoreFields() order.
  std::map<std::string, uint32_t> struct_ids;
  for (size_t i = 0; i < wanted.size(); ++i) {
    struct_ids[wanted[i].name] = static_cast<uint32_t>(i + 1);
  }
  TypePlan plan(static_cast<uint32_t>(wanted.size() + 1));

  // The same shape bpftool gen min_core_btf produces: each struct with its
  // real size and only the fields read, at their real offsets.
  BtfPtr out(btf__new_empty(), &btf__free);
  for (const StructFields& s : wanted) {
    int id = btf__find_by_name_kind(b, s.name, BTF_KIND_STRUCT);
    if (id < 0) {
      return absl::NotFoundError(
          absl::StrCat("the kernel BTF has no struct ", s.name));
    }
    if (btf__add_struct(out.get(), s.name, btf__type_by_id(b, id)->size) < 0) {
      return absl::InternalError("building the minimal BTF failed");
    }
    for (const char* field : s.fields) {
      uint32_t type_id = 0;
      int64_t off = FindField(b, id, field, &type_id);
      const btf_type* t = off < 0 ? nullptr : Resolve(b, &type_id);
      if (t == nullptr) {
        return absl::NotFoundError(
            absl::StrCat("struct ", s.name, " lacks ", field));
      }
      int ref = -1;
      if (btf_is_int(t)) {
        ref = plan.Int(btf__name_by_offset(b, t->name_off), t->size,
                       btf_int_encoding(t));
      } else if (btf_is_ptr(t)) {
        uint32_t target = t->type;
        const btf_type* pointee = Resolve(b, &target);
        auto it = pointee == nullptr
                      ? struct_ids.end()
                      : struct_ids.find(btf__name_by_offset(b, pointee->name_off));
        ref = plan.Ptr(it != struct_ids.end() && btf_is_struct(pointee)
                           ? it->second
                           : 0);  // void *: any pointer relocates alike
      } else if (btf_is_array(t)) {
        uint32_t elem = btf_array(t)->type;
        const btf_type* e = Resolve(b, &elem);
        if (e == nullptr || !btf_is_int(e)) {
          return absl::NotFoundError(absl::StrCat(
              s.name, ".", field, " is not an array of integers"));
        }
        ref = plan.Array(plan.Int(btf__name_by_offset(b, e->name_off),
                                  e->size, btf_int_encoding(e)),
                         plan.Int("int", 4, BTF_INT_SIGNED),
                         btf_array(t)->nelems);
      } else {
        return absl::NotFoundError(absl::StrCat(
            s.name, ".", field, " has a kind the minimal BTF cannot copy"));
      }
      if (btf__add_field(out.get(), field, ref, off, 0) != 0) {
        return absl::InternalError("building the minimal BTF failed");
      }
    }
  }
  if (!plan.AddTo(out.get())) {
    return absl::InternalError("building the minimal BTF failed");
  }
  uint32_t size = 0;
  const void* raw = btf__raw_data(out.get(), &size);
  if (raw == nullptr) return absl::InternalError("serializing BTF failed");
  return std::string(static_cast<const char*>(raw), size);
}

// Whether the kernel's helper enum names bpf_get_current_task_btf.
bool HasCurrentTaskBtf(const btf* b) {
  int id = btf__find_by_name_kind(b, "bpf_func_id", BTF_KIND_ENUM);
  if (id < 0) return false;
  const btf_type* t = btf__type_by_id(b, id);
  const struct btf_enum* e = btf_enum(t);
  for (int i = 0; i < btf_vlen(t); ++i, ++e) {
    if (std::string(btf__name_by_offset(b, e->name_off)) ==
        "BPF_FUNC_get_current_task_btf") {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<std::string> BuildCoreBtf(const std::string& vmlinux_btf_path) {
  BtfPtr vmlinux = LoadBtf(vmlinux_btf_path);
  if (vmlinux == nullptr) {
    return absl::NotFoundError("cannot read the kernel's BTF");
  }
  return BuildFrom(vmlinux.get());
}

bool KernelHasCurrentTaskBtf(const std::string& vmlinux_btf_path) {
  BtfPtr vmlinux = LoadBtf(vmlinux_btf_path);
  return vmlinux != nullptr && HasCurrentTaskBtf(vmlinux.get());
}

const CoreBtf& KernelCoreBtf() {
  static const CoreBtf* built = [] {
    auto* out = new CoreBtf();
    // Parsed once (~20 ms): both answers come from the same BTF.
    BtfPtr vmlinux = LoadBtf("");
    if (vmlinux == nullptr) {
      LOG(WARNING) << "cannot read the kernel's BTF; each load parses it";
      return out;
    }
    out->current_task_btf = HasCurrentTaskBtf(vmlinux.get());
    absl::StatusOr<std::string> data = BuildFrom(vmlinux.get());
    if (!data.ok()) {
      LOG(WARNING) << "no minimal CO-RE BTF (" << data.status()
                   << "); each load parses the full kernel BTF";
      return out;
    }
    int fd = memfd_create("tally-core-btf", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data->data(), data->size()) !=
                      static_cast<ssize_t>(data->size())) {
      LOG(WARNING) << "cannot write the minimal CO-RE BTF; using full BTF";
      if (fd >= 0) close(fd);
      return out;
    }
    // The fd stays open for the life of the process.
    out->path = absl::StrCat("/proc/self/fd/", fd);
    return out;
  }();
  return *built;
}

const std::string& CoreBtfPath() { return KernelCoreBtf().path; }

}  // namespace tally
