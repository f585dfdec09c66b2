// Quoting user input in error messages. Messages travel in gRPC trailers,
// which a default client caps at 8 KB, and must be valid UTF-8 to be shown.
#ifndef TALLY_COMMON_QUOTE_H_
#define TALLY_COMMON_QUOTE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace tally {

inline constexpr size_t kDefaultQuoteBytes = 64;

// `text` in single quotes: at most `max_bytes` of it, cut at a character
// boundary and followed by "... (N bytes)" when longer; bytes that are not
// valid UTF-8, and control characters, as \xNN. Always valid UTF-8.
std::string Quote(absl::string_view text,
                  size_t max_bytes = kDefaultQuoteBytes);

// The length of the UTF-8 sequence starting at text[0], or 0 when it is not
// a valid one (an invalid byte is then one character of its own).
size_t Utf8SequenceLength(absl::string_view text);

}  // namespace tally

#endif  // TALLY_COMMON_QUOTE_H_
