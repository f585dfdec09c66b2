#include "client/args.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace tally::cli {

std::string ParsedArgs::Get(const std::string& name,
                            const std::string& def) const {
  auto it = values.find(name);
  return it == values.end() ? def : it->second;
}

absl::StatusOr<absl::Duration> ParsedArgs::GetDuration(
    const std::string& name, absl::Duration def) const {
  auto it = values.find(name);
  if (it == values.end()) return def;
  absl::Duration d;
  if (!absl::ParseDuration(it->second, &d) || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", name, " wants a positive duration such as 500ms, 5s or 2m, got '",
        it->second, "'"));
  }
  return d;
}

absl::StatusOr<uint64_t> ParsedArgs::GetUint(const std::string& name,
                                             uint64_t def, uint64_t max) const {
  auto it = values.find(name);
  if (it == values.end()) return def;
  uint64_t v = 0;
  if (!absl::SimpleAtoi(it->second, &v) || v > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " wants a whole number up to ", max, ", got '",
                     it->second, "'"));
  }
  return v;
}

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<OptionSpec>& options) {
  ParsedArgs out;
  bool options_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_ended || arg.size() < 2 || arg.rfind("--", 0) != 0) {
      if (!options_ended && arg.size() > 1 && arg[0] == '-' && arg[1] != '-') {
        return absl::InvalidArgumentError(absl::StrCat(
            "unknown option '", arg, "' (options are spelled --name)"));
      }
      out.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    std::string body = arg.substr(2);
    std::optional<std::string> inline_value;
    if (size_t eq = body.find('='); eq != std::string::npos) {
      inline_value = body.substr(eq + 1);
      body = body.substr(0, eq);
    }
    const std::string name = absl::StrReplaceAll(body, {{"_", "-"}});
    auto spec =
        std::find_if(options.begin(), options.end(),
                     [&](const OptionSpec& o) { return o.name == name; });
    if (spec == options.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option --", body));
    }
    if (!spec->takes_value) {
      if (inline_value) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " takes no value"));
      }
      out.values[name] = "";
      continue;
    }
    if (inline_value) {
      out.values[name] = *inline_value;
    } else if (i + 1 < args.size()) {
      out.values[name] = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " needs a value"));
    }
  }
  return out;
}

}  // namespace tally::cli
