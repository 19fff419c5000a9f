/*
 * The log job of opsd supervise, written plainly in C, as a yardstick for
 * scripts/bench/supervise: read a pipe on stdin, put a 29-byte timestamp and
 * stream name before every line, and write the result to a file (argv[1]) on a
 * second thread through a queue of 1 MiB buffers. Not a product: no rotation,
 * no loss policy, no error handling beyond aborting.
 *
 * Build: cc -O2 -o log_job log_job.c -lpthread
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUFFER (1 << 20)
#define BUFFERS 64
#define READ (256 * 1024)

static char *buffers[BUFFERS];
static size_t lengths[BUFFERS];
static unsigned filled = 0, written = 0;
static int finished = 0, out;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;

static void *writer(void *unused) {
  (void)unused;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (written == filled && !finished) pthread_cond_wait(&changed, &lock);
    if (written == filled) {
      pthread_mutex_unlock(&lock);
      return NULL;
    }
    unsigned index = written % BUFFERS;
    pthread_mutex_unlock(&lock);
    for (size_t offset = 0; offset < lengths[index];) {
      ssize_t count = write(out, buffers[index] + offset, lengths[index] - offset);
      if (count <= 0) abort();
      offset += (size_t)count;
    }
    pthread_mutex_lock(&lock);
    written++;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&lock);
  }
}

/* Hands the buffer being filled to the writer, then waits for a free one. */
static char *next_buffer(size_t used, int handing) {
  pthread_mutex_lock(&lock);
  if (handing) {
    lengths[filled % BUFFERS] = used;
    filled++;
    pthread_cond_signal(&changed);
  }
  while (filled - written >= BUFFERS) pthread_cond_wait(&changed, &lock);
  char *buffer = buffers[filled % BUFFERS];
  pthread_mutex_unlock(&lock);
  return buffer;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0) return 1;
  for (int i = 0; i < BUFFERS; i++) buffers[i] = malloc(BUFFER);
  pthread_t thread;
  pthread_create(&thread, NULL, writer, NULL);
  const char *prefix = "2025-11-21T08:06:02.123Z out ";
  size_t prefix_length = strlen(prefix), have = 0, used = 0;
  static char input[READ + 65536];
  char *current = next_buffer(0, 0);
  for (;;) {
    ssize_t count = read(0, input + have, READ);
    if (count <= 0) break;
    have += (size_t)count;
    size_t start = 0;
    for (char *newline; (newline = memchr(input + start, '\n', have - start));) {
      size_t length = (size_t)(newline - (input + start)) + 1;
      if (used + prefix_length + length > BUFFER) {
        current = next_buffer(used, 1);
        used = 0;
      }
      memcpy(current + used, prefix, prefix_length);
      memcpy(current + used + prefix_length, input + start, length);
      used += prefix_length + length;
      start += length;
    }
    memmove(input, input + start, have - start);
    have -= start;
  }
  next_buffer(used, 1);
  pthread_mutex_lock(&lock);
  finished = 1;
  pthread_cond_signal(&changed);
  pthread_mutex_unlock(&lock);
  pthread_join(thread, NULL);
  return close(out) == 0 ? 0 : 1;
}
