// Fuzzes the hook spec parser: any bytes parse or fail with a short, valid
// UTF-8 INVALID_ARGUMENT; what parses prints a canonical spec that parses to
// the same attach point.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "common/hook_spec.h"
#include "common/quote.h"
#include "tests/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<tally::HookSpec> spec = tally::ParseHookSpec(input);
  if (!spec.ok()) {
    TALLY_FUZZ_CHECK(spec.status().code() ==
                     absl::StatusCode::kInvalidArgument);
    tally::fuzz::CheckMessage(spec.status());
    return 0;
  }
  const std::string canonical = spec->ToSpec();
  absl::StatusOr<tally::HookSpec> again = tally::ParseHookSpec(canonical);
  TALLY_FUZZ_CHECK(again.ok());
  TALLY_FUZZ_CHECK(again->ToSpec() == canonical);
  TALLY_FUZZ_CHECK(spec->point.has_value() == again->point.has_value());
  if (spec->point) TALLY_FUZZ_CHECK(*spec->point == *again->point);
  return 0;
}
