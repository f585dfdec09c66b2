#include "common/hook_spec.h"

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/quote.h"

namespace tally {
namespace {

constexpr absl::string_view kSyntaxHelp =
    "expected one of tracepoint:CAT:NAME, rawtracepoint:NAME, tp_btf:NAME, "
    "kprobe:FN, kretprobe:FN, fentry:FN, fexit:FN, uprobe:PATH:SYMBOL, "
    "uretprobe:PATH:SYMBOL, syscall:NAME";

// Every spelling bpftrace accepts, and the syscall alias (no kind).
struct Prefix {
  absl::string_view name;
  std::optional<AttachKind> kind;
};

constexpr Prefix kPrefixes[] = {
    {"tracepoint", AttachKind::kTracepoint},
    {"t", AttachKind::kTracepoint},
    {"rawtracepoint", AttachKind::kRawTracepoint},
    {"rt", AttachKind::kRawTracepoint},
    {"tp_btf", AttachKind::kTpBtf},
    {"kprobe", AttachKind::kKprobe},
    {"k", AttachKind::kKprobe},
    {"kretprobe", AttachKind::kKretprobe},
    {"kr", AttachKind::kKretprobe},
    {"fentry", AttachKind::kFentry},
    {"kfunc", AttachKind::kFentry},
    {"f", AttachKind::kFentry},
    {"fexit", AttachKind::kFexit},
    {"kretfunc", AttachKind::kFexit},
    {"fr", AttachKind::kFexit},
    {"uprobe", AttachKind::kUprobe},
    {"u", AttachKind::kUprobe},
    {"uretprobe", AttachKind::kUretprobe},
    {"ur", AttachKind::kUretprobe},
    {"syscall", std::nullopt},
};

// Kernel symbols may carry compiler suffixes such as "foo.isra.0".
bool IsSymbolChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '.';
}

absl::Status CheckName(absl::string_view spec, absl::string_view what,
                       absl::string_view value, bool allow_dot) {
  if (value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("hook ", Quote(spec), ": the ", what, " is empty"));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '*' || c == '?' || c == '[' || c == '{') {
      return absl::InvalidArgumentError(absl::StrCat(
          "hook ", Quote(spec), ": wildcards are not supported in the ", what,
          " ", Quote(value), "; name exactly one"));
    }
    if (!IsSymbolChar(c) || (c == '.' && !allow_dot)) {
      // The whole character, not one byte of it: messages stay UTF-8.
      const size_t len =
          std::max<size_t>(1, Utf8SequenceLength(value.substr(i)));
      return absl::InvalidArgumentError(absl::StrCat(
          "hook ", Quote(spec), ": invalid character ",
          Quote(value.substr(i, len)), " in the ", what, " ", Quote(value)));
    }
  }
  return absl::OkStatus();
}

absl::Status WrongPartCount(absl::string_view spec, absl::string_view type,
                            absl::string_view shape) {
  return absl::InvalidArgumentError(absl::StrCat(
      "hook ", Quote(spec), ": ", type, " takes the form ", shape));
}

}  // namespace

std::string AttachPoint::ToSpec() const {
  const AttachKindInfo& info = Info(kind);
  switch (info.form) {
    case TargetForm::kCategoryAndName:
      return absl::StrCat(info.spec_prefix, ":", category, ":", target);
    case TargetForm::kName:
      return absl::StrCat(info.spec_prefix, ":", target);
    case TargetForm::kBinaryAndSymbol:
      return absl::StrCat(info.spec_prefix, ":", binary, ":", target);
  }
  return "";
}

bool AttachPoint::operator==(const AttachPoint& other) const {
  return kind == other.kind && category == other.category &&
         target == other.target && binary == other.binary;
}

std::string HookSpec::ToSpec() const {
  return point ? point->ToSpec() : absl::StrCat("syscall:", syscall);
}

absl::StatusOr<HookSpec> ParseHookSpec(absl::string_view spec) {
  spec = absl::StripAsciiWhitespace(spec);
  if (spec.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the hook is empty; ", kSyntaxHelp));
  }
  if (spec.size() > kMaxHookLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("hook ", Quote(spec), " is longer than ", kMaxHookLength,
                     " bytes (a binary path of PATH_MAX and a symbol name)"));
  }
  size_t colon = spec.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("hook ", Quote(spec), " has no probe type before a ':'; ",
                     kSyntaxHelp));
  }
  absl::string_view type = spec.substr(0, colon);
  absl::string_view rest = spec.substr(colon + 1);
  const Prefix* prefix = nullptr;
  for (const Prefix& p : kPrefixes) {
    if (p.name == type) prefix = &p;
  }
  if (prefix == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("hook ", Quote(spec), ": unknown probe type ", Quote(type),
                     "; ", kSyntaxHelp));
  }

  HookSpec out;
  if (!prefix->kind) {
    if (absl::StrContains(rest, ':')) {
      return WrongPartCount(spec, "syscall", "syscall:NAME");
    }
    if (absl::StartsWith(rest, "sys_")) {
      return absl::InvalidArgumentError(
          absl::StrCat("hook ", Quote(spec),
                       ": name the syscall without the sys_ prefix, as in "
                       "syscall:",
                       Quote(rest.substr(4))));
    }
    if (absl::Status s = CheckName(spec, "syscall name", rest, false);
        !s.ok()) {
      return s;
    }
    out.syscall = std::string(rest);
    return out;
  }
  const AttachKind kind = *prefix->kind;
  switch (Info(kind).form) {
    case TargetForm::kCategoryAndName: {
      std::vector<absl::string_view> parts = absl::StrSplit(rest, ':');
      if (parts.size() != 2) {
        return WrongPartCount(spec, "tracepoint", "tracepoint:CATEGORY:NAME");
      }
      if (absl::Status s =
              CheckName(spec, "tracepoint category", parts[0], false);
          !s.ok()) {
        return s;
      }
      if (absl::Status s = CheckName(spec, "tracepoint name", parts[1], false);
          !s.ok()) {
        return s;
      }
      out.point =
          AttachPoint{kind, std::string(parts[0]), std::string(parts[1]), ""};
      return out;
    }
    case TargetForm::kName: {
      absl::string_view what = Info(kind).target == TargetClass::kTracepoint
                                   ? "tracepoint name"
                                   : "kernel function";
      if (absl::StrContains(rest, ':')) {
        return WrongPartCount(spec, type, absl::StrCat(type, ":NAME"));
      }
      if (absl::Status s = CheckName(spec, what, rest, true); !s.ok()) {
        return s;
      }
      out.point = AttachPoint{kind, "", std::string(rest), ""};
      return out;
    }
    case TargetForm::kBinaryAndSymbol: {
      size_t last = rest.rfind(':');
      if (last == absl::string_view::npos) {
        return WrongPartCount(spec, type, absl::StrCat(type, ":PATH:SYMBOL"));
      }
      absl::string_view binary = rest.substr(0, last);
      absl::string_view symbol = rest.substr(last + 1);
      if (binary.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("hook ", Quote(spec), ": the binary path is empty"));
      }
      if (absl::Status s = CheckName(spec, "symbol", symbol, true); !s.ok()) {
        return s;
      }
      out.point =
          AttachPoint{kind, "", std::string(symbol), std::string(binary)};
      return out;
    }
  }
  return absl::InternalError("unreachable");
}

}  // namespace tally
