#include "common/pid_namespace.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace tally {

bool InInitialPidNamespace() {
  static const bool initial = [] {
    struct stat st;
    // Unreadable: assume the usual case, a host process.
    return stat("/proc/self/ns/pid", &st) != 0 ||
           st.st_ino == kInitialPidNamespaceInode;
  }();
  return initial;
}

std::vector<uint32_t> SelfNamespaceTgids(const std::string& proc_root) {
  std::ifstream in(proc_root + "/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("NStgid:", 0) != 0) continue;
    std::istringstream fields(line.substr(7));
    std::vector<uint32_t> out;
    uint32_t tgid;
    while (fields >> tgid) out.push_back(tgid);
    return out;
  }
  return {};
}

}  // namespace tally
