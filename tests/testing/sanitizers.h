// Whether this test binary (and so the tallyd built beside it) runs under
// ASan, whose quarantine and shadow memory make RSS bounds meaningless:
// memory bounds are asserted in the plain build only (scripts/test.sh runs
// both).
#ifndef TALLY_TESTS_TESTING_SANITIZERS_H_
#define TALLY_TESTS_TESTING_SANITIZERS_H_

namespace tally::testing {

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TALLY_TESTING_ASAN 1
#endif
#endif

#ifdef TALLY_TESTING_ASAN
inline constexpr bool kAssertMemoryBounds = false;
#else
inline constexpr bool kAssertMemoryBounds = true;
#endif

}  // namespace tally::testing

#endif  // TALLY_TESTS_TESTING_SANITIZERS_H_
