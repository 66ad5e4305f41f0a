// A persistent thread pool with microsecond dispatch. The caller's thread is worker 0; n-1 pthreads
// wait for the next job by spinning on a generation counter for a bounded time (about 1 ms), then
// sleeping on a condition variable. A token of a 7B model needs ~300 dispatches, so waking through
// the kernel each time (tens of microseconds) would cost more than the arithmetic of small layers.
//
// Lost wake-up: a worker announces that it is going to sleep (sleepers++) and re-reads the
// generation under the mutex; the dispatcher bumps the generation and then reads `sleepers`; both
// are sequentially consistent, so either the worker sees the new generation or the dispatcher sees
// the sleeper and broadcasts under the mutex (which the sleeper holds until it is inside the wait).
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define LN_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define LN_PAUSE() __asm__ __volatile__("yield")
#else
#define LN_PAUSE() ((void)0)
#endif

#define LN_MAX_THREADS 256
#define LN_SPIN_NS 1000000LL  // spin this long after a job before sleeping

typedef struct {
  pthread_t tid;
  int index;
} worker_t;

static struct {
  int n;  // threads including the caller
  worker_t workers[LN_MAX_THREADS];
  _Atomic uint64_t generation;
  _Atomic int done;      // workers finished with the current generation
  _Atomic int sleepers;  // workers inside (or about to enter) the condvar wait
  _Atomic int quit;
  ln_task_fn fn;
  void *ctx;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} P = {.n = 1, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *worker_main(void *arg) {
  worker_t *w = (worker_t *)arg;
  // Read the generation before anything else: a job dispatched between thread start and this load
  // would otherwise be missed (the pitfall in performance-facts.md).
  uint64_t seen = atomic_load(&P.generation);
  for (;;) {
    uint64_t g = atomic_load_explicit(&P.generation, memory_order_acquire);
    if (g == seen) {
      int64_t t0 = now_ns();
      int spins = 0;
      while ((g = atomic_load_explicit(&P.generation, memory_order_acquire)) == seen) {
        LN_PAUSE();
        if (++spins == 256) {
          spins = 0;
          if (now_ns() - t0 > LN_SPIN_NS) break;
        }
      }
      if (g == seen) {
        pthread_mutex_lock(&P.mu);
        atomic_fetch_add(&P.sleepers, 1);
        while ((g = atomic_load(&P.generation)) == seen) pthread_cond_wait(&P.cv, &P.mu);
        atomic_fetch_sub(&P.sleepers, 1);
        pthread_mutex_unlock(&P.mu);
      }
    }
    seen = g;
    if (atomic_load(&P.quit)) return NULL;
    P.fn(P.ctx, w->index, P.n);
    atomic_fetch_add_explicit(&P.done, 1, memory_order_acq_rel);
  }
}

static void wake_all(void) {
  if (atomic_load(&P.sleepers) > 0) {
    pthread_mutex_lock(&P.mu);
    pthread_cond_broadcast(&P.cv);
    pthread_mutex_unlock(&P.mu);
  }
}

static void stop_workers(void) {
  if (P.n <= 1) return;
  atomic_store(&P.quit, 1);
  atomic_fetch_add(&P.generation, 1);
  wake_all();
  for (int i = 1; i < P.n; i++) pthread_join(P.workers[i].tid, NULL);
  atomic_store(&P.quit, 0);
  P.n = 1;
}

int ln_pool_set_threads(int n) {
  if (n < 1) n = 1;
  if (n > LN_MAX_THREADS) n = LN_MAX_THREADS;
  if (n == P.n) return n;
  stop_workers();
  int started = 1;
  for (int i = 1; i < n; i++) {
    P.workers[i].index = i;
    if (pthread_create(&P.workers[i].tid, NULL, worker_main, &P.workers[i]) != 0) break;
    started++;
  }
  P.n = started;
  return started;
}

int ln_pool_threads(void) { return P.n; }

void ln_pool_run(ln_task_fn fn, void *ctx) {
  if (P.n == 1) {
    fn(ctx, 0, 1);
    return;
  }
  P.fn = fn;
  P.ctx = ctx;
  atomic_store(&P.done, 0);
  atomic_fetch_add(&P.generation, 1);  // seq_cst: publishes fn/ctx, ordered before reading sleepers
  wake_all();
  fn(ctx, 0, P.n);
  while (atomic_load_explicit(&P.done, memory_order_acquire) != P.n - 1) LN_PAUSE();
}

void ln_pool_shutdown(void) { stop_workers(); }

void *ln_aligned_alloc(size_t bytes) {
  void *p = NULL;
  if (bytes == 0) bytes = LN_ALIGN;
  if (posix_memalign(&p, LN_ALIGN, (bytes + LN_ALIGN - 1) / LN_ALIGN * LN_ALIGN) != 0) return NULL;
  return p;
}

void ln_aligned_free(void *p) { free(p); }
