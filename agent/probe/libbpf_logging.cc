#include "agent/probe/libbpf_logging.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <string>

#include "glog/logging.h"

namespace tally {
namespace {

int PrintToGlog(enum libbpf_print_level level, const char* format,
                va_list args) {
  int verbosity = level == LIBBPF_DEBUG ? 2 : 1;
  if (!VLOG_IS_ON(verbosity)) return 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), format, args);
  std::string line(buf);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  VLOG(verbosity) << "libbpf: " << line;
  return n;
}

}  // namespace

void InstallLibbpfLogging() { libbpf_set_print(PrintToGlog); }

}  // namespace tally
