#include "agent/daemon/metrics_exposition.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "glog/logging.h"

namespace tally {
namespace {

// Length of the valid UTF-8 sequence at the start of `s`; 0 if invalid
// (overlong forms, surrogates and code points past U+10FFFF included).
size_t Utf8SequenceLength(absl::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

void EscapeInto(absl::string_view text, bool label, std::string* out) {
  for (char c : text) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '"':
        if (label) {
          out->append("\\\"");
          break;
        }
        [[fallthrough]];
      default:
        out->push_back(c);
    }
  }
}

}  // namespace

std::string EscapeLabelValue(absl::string_view raw) {
  std::string valid;
  valid.reserve(raw.size());
  while (!raw.empty()) {
    const size_t n = Utf8SequenceLength(raw);
    if (n == 0) {
      absl::StrAppendFormat(&valid, "\\x%02x",
                            static_cast<unsigned char>(raw[0]));
      raw.remove_prefix(1);
      continue;
    }
    if (raw[0] == '\\') {
      valid.append("\\\\");
    } else {
      valid.append(raw.data(), n);
    }
    raw.remove_prefix(n);
  }
  std::string out;
  out.reserve(valid.size());
  EscapeInto(valid, /*label=*/true, &out);
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrFormat("%.0f", value);
  }
  char buf[64];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

void Exposition::Family(absl::string_view name, MetricType type,
                        absl::string_view help) {
  auto [it, inserted] = families_.try_emplace(std::string(name));
  CHECK(inserted) << "metric family " << name << " declared twice";
  order_.push_back(std::string(name));
  std::string escaped_help;
  EscapeInto(help, /*label=*/false, &escaped_help);
  it->second.header =
      absl::StrCat("# HELP ", name, " ", escaped_help, "\n# TYPE ", name, " ",
                   type == MetricType::kCounter ? "counter" : "gauge", "\n");
}

void Exposition::AddLine(absl::string_view family, const MetricLabels& labels,
                         absl::string_view value) {
  auto it = families_.find(family);
  CHECK(it != families_.end()) << "metric family " << family << " undeclared";
  std::string& out = it->second.samples;
  out.append(family.data(), family.size());
  if (!labels.empty()) {
    out.push_back('{');
    for (size_t i = 0; i < labels.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", labels[i].first, "=\"",
                      EscapeLabelValue(labels[i].second), "\"");
    }
    out.push_back('}');
  }
  absl::StrAppend(&out, " ", value, "\n");
}

void Exposition::Add(absl::string_view family, const MetricLabels& labels,
                     uint64_t value) {
  AddLine(family, labels, absl::StrCat(value));
}

void Exposition::Add(absl::string_view family, const MetricLabels& labels,
                     double value) {
  AddLine(family, labels, FormatSampleValue(value));
}

std::string Exposition::Render() const {
  std::string out;
  for (const std::string& name : order_) {
    const FamilyText& f = families_.find(name)->second;
    if (f.samples.empty()) continue;
    absl::StrAppend(&out, f.header, f.samples);
  }
  return out;
}

}  // namespace tally
