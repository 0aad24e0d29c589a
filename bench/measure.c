/* measure: runs one command in a fresh process and reports what it cost,
 * measured from outside.
 *
 *   measure OUTFILE TIMEOUT_S cmd [args...]
 *
 * The child's stdout goes to OUTFILE (its stderr is left alone). On its own
 * stdout, measure prints one line:
 *   wall=<s> user=<s> sys=<s> maxrss_kb=<kB> status=<exit code | sig N | timeout>
 * wall is fork to wait4 on CLOCK_MONOTONIC; user, sys and maxrss come from
 * wait4's rusage, i.e. the child alone. This runner is tiny on purpose:
 * Linux carries the pre-exec image's RSS high-water mark into the child's
 * ru_maxrss, so measuring from a fat parent (Python) would inflate it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig) {
  (void)sig;
  timed_out = 1;
  if (child > 0) kill(child, SIGKILL);
}

int main(int argc, char **argv) {
  struct rusage ru;
  struct sigaction sa;
  double t0, t1;
  int status, fd;
  pid_t pid;
  if (argc < 4) {
    fprintf(stderr, "usage: measure OUTFILE TIMEOUT_S cmd [args...]\n");
    return 2;
  }
  if ((fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
    perror(argv[1]);
    return 2;
  }
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGALRM, &sa, NULL);
  t0 = now();
  if ((pid = fork()) < 0) {
    perror("fork");
    return 2;
  }
  if (pid == 0) {
    dup2(fd, 1);
    execvp(argv[3], argv + 3);
    perror(argv[3]);
    _exit(127);
  }
  child = pid;
  close(fd);
  alarm((unsigned)atoi(argv[2]));
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      perror("wait4");
      return 2;
    }
  }
  t1 = now();
  printf("wall=%.6f user=%.6f sys=%.6f maxrss_kb=%ld status=",
         t1 - t0,
         (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6,
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6,
         ru.ru_maxrss);
  if (timed_out) printf("timeout\n");
  else if (WIFEXITED(status)) printf("%d\n", WEXITSTATUS(status));
  else printf("sig%d\n", WTERMSIG(status));
  return 0;
}
