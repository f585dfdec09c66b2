#include "agent/probe/core_btf.h"

#include <bpf/btf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bpf/counter.skel.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using BtfPtr = std::unique_ptr<btf, decltype(&btf__free)>;

// Offset in bits of member `name` of struct `id`, searching anonymous
// members; -1 if absent.
int64_t MemberOffset(const btf* b, int id, const std::string& name) {
  const btf_type* t = btf__type_by_id(b, id);
  const btf_member* m = btf_members(t);
  for (int i = 0; i < btf_vlen(t); ++i, ++m) {
    const char* n = btf__name_by_offset(b, m->name_off);
    if (n != nullptr && name == n) return btf_member_bit_offset(t, i);
    if (n == nullptr || *n == '\0') {
      int64_t inner = MemberOffset(b, m->type, name);
      if (inner >= 0) return btf_member_bit_offset(t, i) + inner;
    }
  }
  return -1;
}

TEST(CoreBtfTest, KeepsTheKernelsOffsetsOfTheFieldsTheCounterReads) {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    GTEST_SKIP() << "skipped: this kernel has no /sys/kernel/btf/vmlinux";
  }
  absl::StatusOr<std::string> raw = BuildCoreBtf("");
  ASSERT_TRUE(raw.ok()) << raw.status();
  BtfPtr minimal(btf__new(raw->data(), raw->size()), &btf__free);
  ASSERT_NE(minimal, nullptr);
  BtfPtr full(btf__load_vmlinux_btf(), &btf__free);
  ASSERT_NE(full, nullptr);

  int min_task = btf__find_by_name_kind(minimal.get(), "task_struct", BTF_KIND_STRUCT);
  int full_task = btf__find_by_name_kind(full.get(), "task_struct", BTF_KIND_STRUCT);
  ASSERT_GT(min_task, 0);
  EXPECT_EQ(btf__type_by_id(minimal.get(), min_task)->size,
            btf__type_by_id(full.get(), full_task)->size);
  for (const char* field : {"group_leader", "comm", "pid", "tgid"}) {
    int64_t want = MemberOffset(full.get(), full_task, field);
    ASSERT_GE(want, 0) << field;
    EXPECT_EQ(MemberOffset(minimal.get(), min_task, field), want) << field;
  }
  // group_leader points back at task_struct; comm is a char array.
  const btf_type* task = btf__type_by_id(minimal.get(), min_task);
  auto member = [&](const char* name) -> const btf_type* {
    const btf_member* m = btf_members(task);
    for (int i = 0; i < btf_vlen(task); ++i, ++m) {
      if (std::string(btf__name_by_offset(minimal.get(), m->name_off)) == name) {
        return btf__type_by_id(minimal.get(), m->type);
      }
    }
    return nullptr;
  };
  const btf_type* leader = member("group_leader");
  ASSERT_TRUE(leader != nullptr && btf_is_ptr(leader));
  EXPECT_EQ(static_cast<int>(leader->type), min_task);
  const btf_type* comm = member("comm");
  ASSERT_TRUE(comm != nullptr && btf_is_array(comm));
  EXPECT_EQ(btf_array(comm)->nelems, 16u);
  // A removed cgroup's id: cgroup.kn, kernfs_node.id at the kernel's offsets.
  for (auto [strct, field] : {std::pair<const char*, const char*>{"cgroup", "kn"},
                              {"kernfs_node", "id"}}) {
    int min_id = btf__find_by_name_kind(minimal.get(), strct, BTF_KIND_STRUCT);
    int full_id = btf__find_by_name_kind(full.get(), strct, BTF_KIND_STRUCT);
    ASSERT_GT(min_id, 0) << strct;
    EXPECT_EQ(MemberOffset(minimal.get(), min_id, field),
              MemberOffset(full.get(), full_id, field))
        << strct << "." << field;
  }
  // Small: that is the point.
  EXPECT_LT(raw->size(), 1024u);
}

TEST(CoreBtfTest, PathIsReadableAndStable) {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    GTEST_SKIP() << "skipped: this kernel has no /sys/kernel/btf/vmlinux";
  }
  const std::string& path = CoreBtfPath();
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(&CoreBtfPath(), &path);
  BtfPtr parsed(btf__parse(path.c_str(), nullptr), &btf__free);
  EXPECT_NE(parsed, nullptr);
}

// The .BTF.ext header as the ELF carries it (Documentation/bpf/btf.rst);
// libbpf keeps its own definition private.
struct BtfExtHeader {
  uint16_t magic;
  uint8_t version;
  uint8_t flags;
  uint32_t hdr_len;
  uint32_t func_info_off, func_info_len;
  uint32_t line_info_off, line_info_len;
  uint32_t core_relo_off, core_relo_len;
};

const btf_type* Resolve(const btf* b, uint32_t* id) {
  const btf_type* t = btf__type_by_id(b, *id);
  while (t != nullptr && (btf_is_mod(t) || btf_is_typedef(t))) {
    *id = t->type;
    t = btf__type_by_id(b, *id);
  }
  return t;
}

// "struct.member" for every field a CO-RE relocation of the object reads,
// from the access strings clang recorded ("0:1" = member 1 of the root).
std::set<std::string> RelocatedFields(const btf* b, const btf_ext* ext) {
  std::set<std::string> out;
  uint32_t size = 0;
  const auto* raw = static_cast<const uint8_t*>(btf_ext__get_raw_data(ext, &size));
  BtfExtHeader h = {};
  std::memcpy(&h, raw, std::min<size_t>(sizeof(h), size));
  if (h.hdr_len < sizeof(h) || h.core_relo_len == 0) return out;
  const uint8_t* p = raw + h.hdr_len + h.core_relo_off;
  const uint8_t* end = p + h.core_relo_len;
  uint32_t rec_size;
  std::memcpy(&rec_size, p, 4);
  p += 4;
  while (p + 8 <= end) {
    uint32_t num;
    std::memcpy(&num, p + 4, 4);
    p += 8;
    for (uint32_t i = 0; i < num; ++i, p += rec_size) {
      bpf_core_relo r;
      std::memcpy(&r, p, sizeof(r));
      if (r.kind > BPF_CORE_FIELD_RSHIFT_U64) continue;  // type/enum relos
      uint32_t id = r.type_id;
      const btf_type* t = Resolve(b, &id);
      std::vector<std::string> parts =
          absl::StrSplit(btf__name_by_offset(b, r.access_str_off), ':');
      for (size_t k = 1; k < parts.size() && t != nullptr; ++k) {
        int idx = 0;
        if (!absl::SimpleAtoi(parts[k], &idx)) break;
        if (btf_is_array(t)) {
          id = btf_array(t)->type;
        } else {
          const btf_member* m = btf_members(t) + idx;
          const char* member = btf__name_by_offset(b, m->name_off);
          if (member != nullptr && *member != '\0') {
            out.insert(std::string(btf__name_by_offset(b, t->name_off)) +
                       "." + member);
          }
          id = m->type;
        }
        t = Resolve(b, &id);
      }
    }
  }
  return out;
}

TEST(CoreBtfTest, CoversEveryCoreRelocationOfTheCounter) {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    GTEST_SKIP() << "skipped: this kernel has no /sys/kernel/btf/vmlinux";
  }
  // The embedded object, as the agent loads it.
  size_t len = 0;
  const void* elf = counter_bpf::elf_bytes(&len);
  std::string path = ::testing::TempDir() + "/counter.bpf.o";
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(elf, 1, len, f), len);
  std::fclose(f);
  btf_ext* ext = nullptr;
  BtfPtr obj(btf__parse_elf(path.c_str(), &ext), &btf__free);
  ASSERT_NE(obj, nullptr);
  ASSERT_NE(ext, nullptr);
  std::set<std::string> fields = RelocatedFields(obj.get(), ext);
  btf_ext__free(ext);
  // The counter reads the process name through the group leader, and the
  // dead-key marker a freed task's ids and a removed cgroup's. (libbpf 1.1
  // exports btf_ext__raw_data only under its old name.)
  for (const char* field : {"task_struct.comm", "task_struct.pid",
                            "task_struct.tgid", "cgroup.kn", "kernfs_node.id"}) {
    EXPECT_TRUE(fields.count(field)) << field << " of " << fields.size();
  }

  absl::StatusOr<std::string> raw = BuildCoreBtf("");
  ASSERT_TRUE(raw.ok()) << raw.status();
  BtfPtr minimal(btf__new(raw->data(), raw->size()), &btf__free);
  ASSERT_NE(minimal, nullptr);
  for (const std::string& field : fields) {
    std::vector<std::string> sm = absl::StrSplit(field, '.');
    int id = btf__find_by_name_kind(minimal.get(), sm[0].c_str(),
                                    BTF_KIND_STRUCT);
    ASSERT_GT(id, 0) << "the minimal BTF lacks struct " << sm[0]
                     << ", which counter.bpf.c reads: add it to core_btf.cc";
    EXPECT_GE(MemberOffset(minimal.get(), id, sm[1]), 0)
        << "the minimal BTF lacks " << field
        << ", which counter.bpf.c reads: add it to core_btf.cc";
  }
}

}  // namespace
}  // namespace tally
