#include "agent/daemon/yaml_proto.h"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/quote.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/reflection.h"

namespace tally {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::EnumDescriptor;
using ::google::protobuf::EnumValueDescriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;

class Reader {
 public:
  Reader(std::string file, std::map<std::string, int>* lines)
      : file_(std::move(file)), lines_(lines) {}

  absl::Status Message(const YAML::Node& node, const std::string& path,
                       google::protobuf::Message* out) {
    Mark(node, path);
    if (node.IsNull()) return absl::OkStatus();  // "probes:" with nothing
    if (!node.IsMap()) {
      return Error(node, path, "expected a mapping of field: value");
    }
    const Descriptor* d = out->GetDescriptor();
    std::set<std::string> seen;
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      // yaml-cpp keeps both of a repeated key; the last would silently win.
      if (!seen.insert(key).second) {
        return Error(kv.first, path,
                     absl::StrCat("field ", Quote(key), " is given twice"));
      }
      const FieldDescriptor* f = d->FindFieldByName(key);
      if (f == nullptr) {
        std::vector<std::string> names;
        for (int i = 0; i < d->field_count(); ++i) {
          names.push_back(d->field(i)->name());
        }
        return Error(kv.first, path,
                     absl::StrCat("unknown field ", Quote(key),
                                  "; known: ", absl::StrJoin(names, ", ")));
      }
      const std::string field_path =
          path.empty() ? key : absl::StrCat(path, ".", key);
      if (absl::Status s = Field(kv.second, field_path, f, out); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Field(const YAML::Node& node, const std::string& path,
                     const FieldDescriptor* f, google::protobuf::Message* out) {
    if (!f->is_repeated()) return Value(node, path, f, out);
    if (node.IsNull()) return absl::OkStatus();
    if (!node.IsSequence()) {
      return Error(node, path, "expected a list (items starting with '- ')");
    }
    for (size_t i = 0; i < node.size(); ++i) {
      if (absl::Status s =
              Value(node[i], absl::StrCat(path, "[", i, "]"), f, out);
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  // One value of `f` (appended when repeated).
  absl::Status Value(const YAML::Node& node, const std::string& path,
                     const FieldDescriptor* f, google::protobuf::Message* out) {
    Mark(node, path);
    const Reflection* r = out->GetReflection();
    const bool rep = f->is_repeated();
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      google::protobuf::Message* m =
          rep ? r->AddMessage(out, f) : r->MutableMessage(out, f);
      if (f->message_type()->full_name() == "google.protobuf.Duration") {
        return DurationValue(node, path,
                             static_cast<google::protobuf::Duration*>(m));
      }
      return Message(node, path, m);
    }
    if (!node.IsScalar()) return Error(node, path, "expected a single value");
    const std::string text = node.Scalar();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        rep ? r->AddString(out, f, text) : r->SetString(out, f, text);
        return absl::OkStatus();
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool b;
        if (!absl::SimpleAtob(text, &b)) {
          return Error(node, path,
                       absl::StrCat(Quote(text), " is not true or false"));
        }
        rep ? r->AddBool(out, f, b) : r->SetBool(out, f, b);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v;
        const uint64_t max = f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32
                                 ? std::numeric_limits<uint32_t>::max()
                                 : std::numeric_limits<uint64_t>::max();
        if (!absl::SimpleAtoi(text, &v) || v > max) {
          return Error(node, path,
                       absl::StrCat(Quote(text),
                                    " is not a whole number from "
                                    "0 to ",
                                    max));
        }
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
          rep ? r->AddUInt32(out, f, v) : r->SetUInt32(out, f, v);
        } else {
          rep ? r->AddUInt64(out, f, v) : r->SetUInt64(out, f, v);
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v;
        const bool narrow = f->cpp_type() == FieldDescriptor::CPPTYPE_INT32;
        if (!absl::SimpleAtoi(text, &v) ||
            (narrow && (v < std::numeric_limits<int32_t>::min() ||
                        v > std::numeric_limits<int32_t>::max()))) {
          return Error(node, path,
                       absl::StrCat(Quote(text), " is not a whole number"));
        }
        if (narrow) {
          rep ? r->AddInt32(out, f, v) : r->SetInt32(out, f, v);
        } else {
          rep ? r->AddInt64(out, f, v) : r->SetInt64(out, f, v);
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const EnumValueDescriptor* v = EnumValue(f->enum_type(), text);
        if (v == nullptr) {
          return Error(node, path,
                       absl::StrCat("unknown value ", Quote(text), "; use ",
                                    EnumChoices(f->enum_type())));
        }
        rep ? r->AddEnum(out, f, v) : r->SetEnum(out, f, v);
        return absl::OkStatus();
      }
      default:
        return Error(node, path, "this field cannot be set from YAML");
    }
  }

  absl::Status DurationValue(const YAML::Node& node, const std::string& path,
                             google::protobuf::Duration* out) {
    absl::Duration d;
    if (!node.IsScalar() || !absl::ParseDuration(node.Scalar(), &d)) {
      return Error(node, path,
                   absl::StrCat(Quote(node.IsScalar() ? node.Scalar() : ""),
                                " is not a duration such as 90s, 15m or 24h"));
    }
    const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
    out->set_seconds(seconds);
    out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
    return absl::OkStatus();
  }

  // The part of an enum's value names after their common prefix: "comm"
  // for GROUP_BY_COMM.
  static std::string Prefix(const EnumDescriptor* e) {
    std::string prefix;
    for (char c : e->name()) {
      if (absl::ascii_isupper(c) && !prefix.empty()) prefix += '_';
      prefix += absl::ascii_toupper(c);
    }
    return prefix + "_";
  }

  static const EnumValueDescriptor* EnumValue(const EnumDescriptor* e,
                                              const std::string& text) {
    if (const EnumValueDescriptor* v = e->FindValueByName(text)) return v;
    return e->FindValueByName(Prefix(e) + absl::AsciiStrToUpper(text));
  }

  static std::string EnumChoices(const EnumDescriptor* e) {
    std::vector<std::string> names;
    const std::string prefix = Prefix(e);
    for (int i = 0; i < e->value_count(); ++i) {
      std::string n = e->value(i)->name();
      // The zero value of a proto3 enum means "not set": leave it out.
      if (absl::EndsWith(n, "_UNSPECIFIED")) continue;
      if (n.rfind(prefix, 0) == 0)
        n = absl::AsciiStrToLower(n.substr(prefix.size()));
      names.push_back(n);
    }
    return absl::StrJoin(names, ", ");
  }

  void Mark(const YAML::Node& node, const std::string& path) {
    if (lines_ != nullptr && !path.empty()) {
      (*lines_)[path] = node.Mark().line + 1;
    }
  }

  absl::Status Error(const YAML::Node& node, const std::string& path,
                     const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(file_, ":", node.Mark().line + 1, ": ",
                     path.empty() ? "" : absl::StrCat(path, ": "), what));
  }

  const std::string file_;
  std::map<std::string, int>* const lines_;
};

}  // namespace

absl::Status ParseYamlInto(const std::string& text, const std::string& file,
                           google::protobuf::Message* out,
                           std::map<std::string, int>* lines) {
  YAML::Node root;
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(text);
    if (docs.size() > 1) {
      // Load() would read the first and drop the rest without a word.
      return absl::InvalidArgumentError(absl::StrCat(
          file, ":", docs[1].Mark().line + 1,
          ": a second YAML document ('---'): list every probe under the "
          "first one's probes:"));
    }
    if (!docs.empty()) root = docs[0];
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  out->Clear();
  try {
    if (lines != nullptr) lines->clear();
    return Reader(file, lines).Message(root, "", out);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ":", e.mark.line + 1, ": ", e.msg));
  }
}

}  // namespace tally
