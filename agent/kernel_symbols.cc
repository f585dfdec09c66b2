#include "agent/kernel_symbols.h"

#include <bpf/btf.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/tracefs.h"

namespace tally {

bool SystemKernelSymbols::HasTracepoint(absl::string_view category,
                                        absl::string_view name) {
  absl::StatusOr<std::string> root = EnsureTracefs();
  if (!root.ok()) return false;
  std::string dir = absl::StrCat(*root, "/events/", category, "/", name);
  return access(dir.c_str(), F_OK) == 0;
}

bool SystemKernelSymbols::HasBtfFunction(absl::string_view name) {
  std::unique_ptr<btf, decltype(&btf__free)> vmlinux(btf__load_vmlinux_btf(),
                                                     &btf__free);
  if (vmlinux == nullptr) return false;
  return btf__find_by_name_kind(vmlinux.get(), std::string(name).c_str(),
                                BTF_KIND_FUNC) >= 0;
}

bool SystemKernelSymbols::HasKallsym(absl::string_view name) {
  std::ifstream in("/proc/kallsyms");
  std::string address, type, symbol;
  // Lines are "ADDRESS TYPE NAME [MODULE]".
  while (in >> address >> type >> symbol) {
    if (symbol == name) return true;
    in.ignore(1 << 16, '\n');
  }
  return false;
}

}  // namespace tally
