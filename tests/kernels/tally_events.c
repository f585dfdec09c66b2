// Makes a known number of events for the kernel matrix, from one process
// that every probe filters on. Statically linked: it runs unchanged inside
// the test VMs and on the host, and makes no loader reads.
//
//   tally-events N READY_FILE
//   tally-events rounds N R READY_FILE
//   tally-events threads T READY_FILE TIDS_FILE
//
// Creates READY_FILE once SIGUSR1 is blocked, waits for SIGUSR1 (a signal,
// not a read: fexit:vfs_read must not see the wake-up), then makes exactly
// N of each: getppid() (syscall tracepoint, kprobe, syscall: alias),
// prctl(PR_SET_NAME) (task_rename: raw_tp, tp_btf), 1-byte reads of
// /dev/zero (vfs_read: fentry, fexit) and calls of tally_event_target()
// (uprobe, uretprobe).
//
// The rounds form does that R times: after each SIGUSR1 it makes N of each
// and then creates READY_FILE.K (K = 1..R), so a test can make events
// before, during and after an agent's downtime.
//
// The threads form creates READY_FILE and waits for SIGUSR1; then starts T
// threads, thread i making exactly 5 * (i + 1) getpid() calls (per-thread
// keys), and once all have made them writes "TID COUNT" lines to TIDS_FILE
// (complete when it appears) and waits for SIGUSR1 again; then lets the
// threads end and exits (their keys are then reclaimed).
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((noinline, used)) int tally_event_target(int x) {
  __asm__ volatile("" ::: "memory");
  return x + 1;
}

static pthread_barrier_t called, release;

struct thread_arg {
  long calls;
  pid_t tid;
};

static void* thread_main(void* p) {
  struct thread_arg* arg = p;
  arg->tid = (pid_t)syscall(SYS_gettid);
  for (long i = 0; i < arg->calls; ++i) syscall(SYS_getpid);
  pthread_barrier_wait(&called);
  pthread_barrier_wait(&release);
  return NULL;
}

static int run_threads(long t, const char* ready_file, const char* tids_file) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  pthread_t threads[256];
  struct thread_arg args[256];
  if (t < 1 || t > 256) return 2;
  int ready = open(ready_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (ready < 0) return 4;
  close(ready);
  int sig = 0;
  sigwait(&set, &sig);

  pthread_barrier_init(&called, NULL, (unsigned)t + 1);
  pthread_barrier_init(&release, NULL, (unsigned)t + 1);
  for (long i = 0; i < t; ++i) {
    args[i].calls = 5 * (i + 1);
    if (pthread_create(&threads[i], NULL, thread_main, &args[i]) != 0) return 3;
  }
  pthread_barrier_wait(&called);
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", tids_file);
  FILE* tids = fopen(tmp, "w");
  if (tids == NULL) return 4;
  for (long i = 0; i < t; ++i) fprintf(tids, "%d %ld\n", args[i].tid, args[i].calls);
  fclose(tids);
  if (rename(tmp, tids_file) != 0) return 4;
  sigwait(&set, &sig);
  pthread_barrier_wait(&release);
  for (long i = 0; i < t; ++i) pthread_join(threads[i], NULL);
  return 0;
}

static int touch(const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

// N of every kind of event, from this thread.
static int make_events(long n, int zero) {
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

int main(int argc, char** argv) {
  if (argc == 5 && strcmp(argv[1], "threads") == 0) {
    return run_threads(atol(argv[2]), argv[3], argv[4]);
  }
  const int rounds_form = argc == 5 && strcmp(argv[1], "rounds") == 0;
  if (argc != 3 && !rounds_form) {
    fprintf(stderr,
            "usage: tally-events N READY_FILE\n"
            "       tally-events rounds N R READY_FILE\n"
            "       tally-events threads T READY_FILE TIDS_FILE\n");
    return 2;
  }
  long n = atol(argv[rounds_form ? 2 : 1]);
  long rounds = rounds_form ? atol(argv[3]) : 1;
  const char* ready_file = argv[rounds_form ? 4 : 2];
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int zero = open("/dev/zero", O_RDONLY);
  if (zero < 0) return 3;
  if (touch(ready_file) != 0) return 4;
  for (long r = 1; r <= rounds; ++r) {
    int sig = 0;
    sigwait(&set, &sig);
    int rc = make_events(n, zero);
    if (rc != 0) return rc;
    if (rounds_form) {
      char done[4096];
      snprintf(done, sizeof(done), "%s.%ld", ready_file, r);
      if (touch(done) != 0) return 4;
    }
  }
  return 0;
}
