// Whole-file reads for small inputs (PEM material, config files).
#ifndef TALLY_COMMON_FILES_H_
#define TALLY_COMMON_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace tally {

// NOT_FOUND when `path` does not exist, PERMISSION_DENIED when it may not
// be read, FAILED_PRECONDITION otherwise (a directory, an I/O error); the
// message names the path and the reason.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace tally

#endif  // TALLY_COMMON_FILES_H_
