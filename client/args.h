// A small command-line parser for tallyctl: `--opt value`, `--opt=value`,
// boolean `--opt`, positional arguments, and `--` to end options. Dashes and
// underscores in option names are interchangeable (--group-by, --group_by).
#ifndef TALLY_CLIENT_ARGS_H_
#define TALLY_CLIENT_ARGS_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tally::cli {

struct OptionSpec {
  std::string name;  // without dashes, with '-' separators
  bool takes_value = true;
};

struct ParsedArgs {
  std::map<std::string, std::string> values;  // "" for boolean options
  std::vector<std::string> positional;

  bool Has(const std::string& name) const { return values.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& def = "") const;
  absl::StatusOr<absl::Duration> GetDuration(const std::string& name,
                                             absl::Duration def) const;
  absl::StatusOr<uint64_t> GetUint(const std::string& name, uint64_t def,
                                   uint64_t max) const;
};

// INVALID_ARGUMENT naming the unknown option or missing value.
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<OptionSpec>& options);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_ARGS_H_
