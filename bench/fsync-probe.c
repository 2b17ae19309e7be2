/*
 * What one durable append costs on this disk, outside chainlog: T threads, each on its own file,
 * each doing N rounds of "pwrite 256 B at the end of what it wrote, fdatasync". Prints the rounds
 * per second of all threads together and the fdatasync latency (p50, p99, max).
 *
 *   gcc -O2 -pthread -o .scratch/fsync-probe bench/fsync-probe.c
 *   .scratch/fsync-probe DIR THREADS ROUNDS MODE
 *
 * MODE append:   the files grow with each write (the file size changes: each fdatasync commits
 *                the inode to the journal too), as chainlog's segments do today.
 * MODE prealloc: each file is first written with zeros for all of its rounds and fsynced, so a
 *                write overwrites allocated, written blocks and its fdatasync flushes data only.
 * MODE falloc:   posix_fallocate instead (unwritten extents: the first write to a block still
 *                changes metadata, which this mode shows).
 * See docs/perf-notes.md ("Many streams under sync 'always'") for what it measured.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int rounds;
static const char *mode;
static const char *dir;
static double *latencies; /* threads × rounds, ms */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static pthread_barrier_t start;

static void *run(void *arg) {
  long t = (long)arg;
  char path[4096];
  snprintf(path, sizeof path, "%s/probe-%ld", dir, t);
  int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
  if (fd < 0) { perror(path); exit(1); }
  char rec[256];
  memset(rec, 'x', sizeof rec);
  off_t size = (off_t)rounds * sizeof rec;
  if (strcmp(mode, "prealloc") == 0) {
    char zeros[65536] = {0};
    for (off_t at = 0; at < size; at += sizeof zeros) {
      if (pwrite(fd, zeros, sizeof zeros, at) != (ssize_t)sizeof zeros) { perror("pwrite"); exit(1); }
    }
    if (fsync(fd) != 0) { perror("fsync"); exit(1); }
  } else if (strcmp(mode, "falloc") == 0) {
    if (posix_fallocate(fd, 0, size) != 0 || fsync(fd) != 0) { perror("fallocate"); exit(1); }
  }
  pthread_barrier_wait(&start);
  for (int i = 0; i < rounds; i++) {
    if (pwrite(fd, rec, sizeof rec, (off_t)i * sizeof rec) != (ssize_t)sizeof rec) { perror("pwrite"); exit(1); }
    double t0 = now_ms();
    if (fdatasync(fd) != 0) { perror("fdatasync"); exit(1); }
    latencies[t * rounds + i] = now_ms() - t0;
  }
  close(fd);
  unlink(path);
  return NULL;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s DIR THREADS ROUNDS append|prealloc|falloc\n", argv[0]);
    return 2;
  }
  dir = argv[1];
  int threads = atoi(argv[2]);
  rounds = atoi(argv[3]);
  mode = argv[4];
  latencies = calloc((size_t)threads * rounds, sizeof *latencies);
  pthread_t *ids = calloc(threads, sizeof *ids);
  pthread_barrier_init(&start, NULL, threads + 1);
  for (long t = 0; t < threads; t++) pthread_create(&ids[t], NULL, run, (void *)t);
  pthread_barrier_wait(&start);
  double t0 = now_ms();
  for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
  double elapsed = now_ms() - t0;
  size_t n = (size_t)threads * rounds;
  qsort(latencies, n, sizeof *latencies, compare);
  printf("{\"mode\":\"%s\",\"threads\":%d,\"rounds\":%d,\"fdatasyncsPerSec\":%.0f,\"p50ms\":%.3f,\"p99ms\":%.3f,\"maxms\":%.3f}\n",
         mode, threads, rounds, n / (elapsed / 1e3), latencies[n / 2], latencies[(size_t)(n * 0.99)], latencies[n - 1]);
  return 0;
}
