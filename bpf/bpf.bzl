"""bpf_skeleton: a CO-RE BPF object compiled once with clang, embedded in a
libbpf skeleton header (bpftool gen skeleton), exposed as a cc_library."""

load("@rules_cc//cc:defs.bzl", "cc_library")

def bpf_skeleton(name, src, skel_name, hdrs = [], visibility = None):
    """Builds <src without .bpf.c>.skel.h and a cc_library `name` holding it.

    Args:
      name: the cc_library.
      src: the BPF C file, e.g. "counter.bpf.c".
      skel_name: the skeleton's C name (`struct <skel_name>`).
      hdrs: headers the BPF file and its users include.
      visibility: of the library.
    """
    base = src[:-len(".bpf.c")]
    obj = base + ".bpf.o"
    skel = base + ".skel.h"

    # -g emits BTF and the CO-RE relocations libbpf needs at load time.
    native.genrule(
        name = name + "_obj",
        srcs = [src, "//bpf:vmlinux.h"] + hdrs,
        outs = [obj],
        cmd = "clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror " +
              "-I$$(dirname $(location //bpf:vmlinux.h)) " +
              "-I$$(dirname $(location " + src + ")) " +
              "-c $(location " + src + ") -o $@ && " +
              # Strip DWARF, keep BTF: smaller embedded object, same relocations.
              "llvm-strip -g $@",
    )
    native.genrule(
        name = name + "_skel",
        srcs = [":" + name + "_obj"],
        outs = [skel],
        cmd = "bpftool gen skeleton $(location :" + name + "_obj) name " +
              skel_name + " > $@",
    )
    cc_library(
        name = name,
        hdrs = hdrs + [":" + name + "_skel"],
        deps = ["//third_party:libbpf"],
        visibility = visibility,
    )
