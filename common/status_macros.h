// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status code.
//
// Abseil 20220623 (Debian 12) ships no status macros; these match the names
// later Abseil and Google code use, so moving to them is a deletion.
#ifndef TALLY_COMMON_STATUS_MACROS_H_
#define TALLY_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TALLY_STATUS_CONCAT_INNER(a, b) a##b
#define TALLY_STATUS_CONCAT(a, b) TALLY_STATUS_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status tally_status_ = (expr);         \
    if (!tally_status_.ok()) return tally_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, rexpr)                                          \
  TALLY_ASSIGN_OR_RETURN_IMPL(TALLY_STATUS_CONCAT(tally_statusor_, __LINE__), \
                              lhs, rexpr)

#define TALLY_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr)  \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#endif  // TALLY_COMMON_STATUS_MACROS_H_
