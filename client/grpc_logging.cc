#include "client/grpc_logging.h"

#include <grpc/support/log.h>

#include <cstdlib>

namespace tally::cli {
namespace {

void Discard(gpr_log_func_args* /*args*/) {}

bool InEnvironment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0';
}

}  // namespace

void ConfigureGrpcLogging(bool verbose) {
  if (InEnvironment("GRPC_VERBOSITY") || InEnvironment("GRPC_TRACE")) return;
  if (verbose) {
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_INFO);
    return;
  }
  gpr_set_log_function(Discard);
}

}  // namespace tally::cli
