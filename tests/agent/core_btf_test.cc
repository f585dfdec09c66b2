#include "agent/core_btf.h"

#include <bpf/btf.h>
#include <unistd.h>

#include <memory>
#include <string>

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
  for (const char* field : {"group_leader", "comm"}) {
    int64_t want = MemberOffset(full.get(), full_task, field);
    ASSERT_GE(want, 0) << field;
    EXPECT_EQ(MemberOffset(minimal.get(), min_task, field), want) << field;
  }
  // group_leader points back at task_struct; comm is a char array.
  const btf_member* m = btf_members(btf__type_by_id(minimal.get(), min_task));
  const btf_type* leader = btf__type_by_id(minimal.get(), m[0].type);
  ASSERT_TRUE(btf_is_ptr(leader));
  EXPECT_EQ(static_cast<int>(leader->type), min_task);
  const btf_type* comm = btf__type_by_id(minimal.get(), m[1].type);
  ASSERT_TRUE(btf_is_array(comm));
  EXPECT_EQ(btf_array(comm)->nelems, 16u);
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

}  // namespace
}  // namespace tally
