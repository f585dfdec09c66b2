// Makes a known number of events for the kernel matrix, from one process
// that every probe filters on. Statically linked: it runs unchanged inside
// the test VMs and on the host, and makes no loader reads.
//
//   tally-events N READY_FILE
//
// Creates READY_FILE once SIGUSR1 is blocked, waits for SIGUSR1 (a signal,
// not a read: fexit:vfs_read must not see the wake-up), then makes exactly
// N of each: getppid() (syscall tracepoint, kprobe, syscall: alias),
// prctl(PR_SET_NAME) (task_rename: raw_tp, tp_btf), 1-byte reads of
// /dev/zero (vfs_read: fentry, fexit) and calls of tally_event_target()
// (uprobe, uretprobe).
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((noinline, used)) int tally_event_target(int x) {
  __asm__ volatile("" ::: "memory");
  return x + 1;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: tally-events N READY_FILE\n");
    return 2;
  }
  long n = atol(argv[1]);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int zero = open("/dev/zero", O_RDONLY);
  if (zero < 0) return 3;
  int ready = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (ready < 0) return 4;
  close(ready);
  int sig = 0;
  sigwait(&set, &sig);

  volatile int sink = 0;
  char c;
  for (long i = 0; i < n; ++i) syscall(SYS_getppid);
  for (long i = 0; i < n; ++i) prctl(PR_SET_NAME, (i & 1) ? "tally-a" : "tally-b");
  for (long i = 0; i < n; ++i) {
    if (read(zero, &c, 1) != 1) return 5;
  }
  for (long i = 0; i < n; ++i) sink += tally_event_target((int)i);
  return sink == 0 && n > 0 ? 6 : 0;
}
