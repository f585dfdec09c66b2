"""Overlays Debian's rules_cc (bazel-rules-cc) so it loads on Bazel 4.2.3.

Debian ships rules_cc 0.0.4, two of whose .bzl files load `use_cpp_toolchain`
from @bazel_tools, which Bazel 4.2.3 lacks. This repository rule links every
file of the Debian tree and rewrites only those loads to a local equivalent, so
BUILD files keep loading `@rules_cc//cc:defs.bzl` and nothing is downloaded.
"""

_PATCHED = [
    "cc/private/rules_impl/cc_flags_supplier.bzl",
    "cc/private/rules_impl/compiler_flag.bzl",
]

_OLD_LOAD = '"find_cpp_toolchain", "use_cpp_toolchain")\n'
_NEW_LOAD = '"find_cpp_toolchain")\nload("//cc/private/rules_impl:toolchain_compat.bzl", "use_cpp_toolchain")\n'

_COMPAT = '''"""use_cpp_toolchain for Bazel 4.2.3, which has no optional toolchains."""

def use_cpp_toolchain(mandatory = True):
    return ["@bazel_tools//tools/cpp:toolchain_type"]
'''

def _debian_rules_cc_impl(rctx):
    src = str(rctx.path(rctx.attr.path))
    if not rctx.path(src).exists:
        fail("rules_cc not found at %s: run ./scripts/setup.sh (installs bazel-rules-cc)" % src)
    result = rctx.execute(["find", ".", "-type", "f"], working_directory = src)
    if result.return_code != 0:
        fail("cannot list %s: %s" % (src, result.stderr))
    for rel in result.stdout.splitlines():
        rel = rel[2:]
        if rel in _PATCHED:
            text = rctx.read(rctx.path(src + "/" + rel))
            if _OLD_LOAD not in text:
                fail("unexpected %s in Debian rules_cc; update this overlay" % rel)
            rctx.file(rel, text.replace(_OLD_LOAD, _NEW_LOAD, 1))
        else:
            rctx.symlink(src + "/" + rel, rel)
    rctx.file("cc/private/rules_impl/toolchain_compat.bzl", _COMPAT)

debian_rules_cc = repository_rule(
    implementation = _debian_rules_cc_impl,
    attrs = {"path": attr.string(default = "/usr/share/bazel/rules/cc")},
    local = True,
)
