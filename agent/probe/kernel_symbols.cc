#include "agent/probe/kernel_symbols.h"

#include <bpf/btf.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/probe/tracefs.h"

namespace tally {

namespace {

#if defined(__x86_64__)
constexpr absl::string_view kSyscallPrefix = "__x64_sys_";
#elif defined(__aarch64__)
constexpr absl::string_view kSyscallPrefix = "__arm64_sys_";
#else
#error "add this architecture's syscall wrapper prefix"
#endif

// The running kernel's tracefs, BTF and kallsyms.
class SystemKernelSymbols : public KernelSymbols {
 public:
  bool HasTracepoint(absl::string_view category,
                     absl::string_view name) override {
    absl::StatusOr<std::string> root = EnsureTracefs();
    if (!root.ok()) return false;
    std::string dir = absl::StrCat(*root, "/events/", category, "/", name);
    return access(dir.c_str(), F_OK) == 0;
  }

  bool HasBtfFunction(absl::string_view name) override {
    std::unique_ptr<btf, decltype(&btf__free)> vmlinux(btf__load_vmlinux_btf(),
                                                       &btf__free);
    if (vmlinux == nullptr) return false;
    return btf__find_by_name_kind(vmlinux.get(), std::string(name).c_str(),
                                  BTF_KIND_FUNC) >= 0;
  }

  bool HasKallsym(absl::string_view name) override {
    std::ifstream in("/proc/kallsyms");
    std::string address, type, symbol;
    // Lines are "ADDRESS TYPE NAME [MODULE]".
    while (in >> address >> type >> symbol) {
      if (symbol == name) return true;
      in.ignore(1 << 16, '\n');
    }
    return false;
  }
};

}  // namespace

std::string SyscallFunction(absl::string_view name) {
  return absl::StrCat(kSyscallPrefix, name);
}

std::unique_ptr<KernelSymbols> NewKernelSymbols() {
  return std::make_unique<SystemKernelSymbols>();
}

}  // namespace tally
