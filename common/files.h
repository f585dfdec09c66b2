// Whole-file reads for small inputs (PEM material, config files).
#ifndef TALLY_COMMON_FILES_H_
#define TALLY_COMMON_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace tally {

absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace tally

#endif  // TALLY_COMMON_FILES_H_
