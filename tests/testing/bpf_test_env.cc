#include "tests/testing/bpf_test_env.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/probe/privileges.h"

namespace tally::testing {

std::string BpfUnavailableReason() {
  if (geteuid() != 0) {
    return absl::StrCat("not running as root (euid ", geteuid(),
                        "); BPF tests need root");
  }
  std::string missing = MissingBpfCapabilities(CurrentPrivileges());
  if (!missing.empty()) return absl::StrCat("the process lacks ", missing);
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    return "the kernel has no BTF (/sys/kernel/btf/vmlinux is missing)";
  }
  // A one-instruction socket filter: proves bpf() itself works here (it
  // fails with EPERM inside user namespaces such as Bazel's linux-sandbox).
  struct bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, nullptr, "GPL", insns, 2,
                         nullptr);
  if (fd < 0) {
    return absl::StrCat("bpf(BPF_PROG_LOAD) fails here (", strerror(errno),
                        "); in Bazel run with tags = [\"no-sandbox\"]");
  }
  close(fd);
  return "";
}

bool BpfRequired() {
  const char* v = std::getenv("TALLY_REQUIRE_BPF");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

}  // namespace tally::testing
