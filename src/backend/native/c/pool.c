// A persistent thread pool with microsecond dispatch. The caller's thread is worker 0; n-1 pthreads
// wait for the next job by spinning on a generation counter for a bounded time (250 us), then
// sleeping on a condition variable. A token of a 7B model needs ~300 dispatches, so waking through
// the kernel each time (tens of microseconds) would cost more than the arithmetic of small layers.
//
// Two kinds of jobs:
//  - dynamic (ln_pool_run): the task hands out its work in chunks through an atomic counter, so any
//    subset of threads completes it. Workers *join* a job; the caller, once it finds no chunk left,
//    closes the job and waits only for the workers that joined. A worker that wakes late (the
//    machine is shared and oversubscribed: a descheduled worker may not run for milliseconds)
//    finds the job closed and goes back to waiting, instead of stalling every dispatch.
//  - all (ln_pool_run_all): every thread runs its static share (bandwidth/FMA probes).
//
// Joining: a worker increments `active`, then reads `open_gen`; the caller clears `open_gen`, then
// waits for `active` to reach 0. Both are sequentially consistent, so either the worker sees the
// job closed (and backs out) or the caller sees the worker and waits for it: the job's context
// (on the caller's stack) is never used after the caller returns.
//
// Lost wake-up: a worker announces that it is going to sleep (sleepers++) and re-reads the
// generation under the mutex; the dispatcher bumps the generation and then reads `sleepers`; so
// either the worker sees the new generation or the dispatcher sees the sleeper and broadcasts under
// the mutex (which the sleeper holds until it is inside the wait). A new worker starts from the
// generation its creator saw, not one it reads itself (a job dispatched between pthread_create and
// the thread's first instruction would otherwise be missed).
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <sys/mman.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define LN_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define LN_PAUSE() __asm__ __volatile__("yield")
#else
#define LN_PAUSE() ((void)0)
#endif

#define LN_MAX_THREADS 256
#define LN_SPIN_NS 250000LL  // spin this long after a job before sleeping (ops of a token follow each other within microseconds)

typedef struct {
  pthread_t tid;
  int index;
  uint64_t start_generation;
} worker_t;

static struct {
  int n;  // threads including the caller
  worker_t workers[LN_MAX_THREADS];
  _Atomic uint64_t generation;
  _Atomic uint64_t open_gen;  // generation of the job workers may join, 0 when closed
  _Atomic int active;         // workers inside the current job
  _Atomic int finished;       // workers done with the current job (all-mode)
  _Atomic int sleepers;
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

// spin politely: pause, and give the core away now and then (a worker we wait for may be
// descheduled on this very core)
static inline void backoff(int *spins) {
  LN_PAUSE();
  if (++*spins >= 2000) {
    *spins = 0;
    sched_yield();
  }
}

static void *worker_main(void *arg) {
  worker_t *w = (worker_t *)arg;
  uint64_t seen = w->start_generation;
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
    atomic_fetch_add(&P.active, 1);
    if (atomic_load(&P.open_gen) == g) {
      P.fn(P.ctx, w->index, P.n);
      atomic_fetch_add(&P.finished, 1);
    }
    atomic_fetch_sub(&P.active, 1);
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
    P.workers[i].start_generation = atomic_load(&P.generation);
    if (pthread_create(&P.workers[i].tid, NULL, worker_main, &P.workers[i]) != 0) break;
    started++;
  }
  P.n = started;
  return started;
}

int ln_pool_threads(void) { return P.n; }

static void run(ln_task_fn fn, void *ctx, int all) {
  if (P.n == 1) {
    fn(ctx, 0, 1);
    return;
  }
  P.fn = fn;
  P.ctx = ctx;
  atomic_store(&P.finished, 0);
  uint64_t g = atomic_load(&P.generation) + 1;
  atomic_store(&P.open_gen, g);    // open before announcing, so an announced job is joinable
  atomic_store(&P.generation, g);  // seq_cst: publishes fn/ctx, ordered before reading sleepers
  wake_all();
  fn(ctx, 0, P.n);
  int spins = 0;
  if (all)
    while (atomic_load(&P.finished) != P.n - 1) backoff(&spins);
  atomic_store(&P.open_gen, 0);  // close: late workers back out
  while (atomic_load(&P.active) != 0) backoff(&spins);
}

void ln_pool_run(ln_task_fn fn, void *ctx) { run(fn, ctx, 0); }
void ln_pool_run_all(ln_task_fn fn, void *ctx) { run(fn, ctx, 1); }

void ln_pool_shutdown(void) { stop_workers(); }

// Large buffers (repacked weights) are 2 MiB aligned and marked for transparent huge pages:
// decode streams gigabytes of weights, and with 4 KiB pages every 4 KiB costs a TLB miss (and
// filling the buffer costs a page fault per 4 KiB).
#define LN_HUGE (2u << 20)
void *ln_aligned_alloc(size_t bytes) {
  void *p = NULL;
  if (bytes == 0) bytes = LN_ALIGN;
  if (bytes >= 2 * LN_HUGE) {
    size_t n = (bytes + LN_HUGE - 1) / LN_HUGE * LN_HUGE;
    if (posix_memalign(&p, LN_HUGE, n) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, n, MADV_HUGEPAGE);
#endif
    return p;
  }
  if (posix_memalign(&p, LN_ALIGN, (bytes + LN_ALIGN - 1) / LN_ALIGN * LN_ALIGN) != 0) return NULL;
  return p;
}

void ln_aligned_free(void *p) { free(p); }

// Weight arena: repacked weights from 64 KiB to 4 MiB (every matrix of a small model) share
// 2 MiB-aligned huge-page chunks. On their own (4 KiB pages) each 4 KiB of a weight costs a TLB
// miss and the hardware prefetcher restarts at every page: a 768x768 Q8_0 matvec streamed at
// ~46% of the read bandwidth, in huge pages ~67% (same-process A/B, knob `arenamin`). Chunks are
// bump-allocated and released when their last weight is freed.
#define LN_ARENA_CHUNK ((size_t)32 << 20)
#define LN_ARENA_MAX ((size_t)4 << 20)  // larger buffers get huge pages of their own
int ln_tune_arena_min = 64 << 10;
typedef struct ln_chunk {
  struct ln_chunk *next;
  uint8_t *base;
  size_t used, live;
} ln_chunk;
static ln_chunk *arena_chunks, *arena_cur;
static pthread_mutex_t arena_mu = PTHREAD_MUTEX_INITIALIZER;

void *ln_weight_alloc(size_t bytes) {
  if (bytes < (size_t)ln_tune_arena_min || bytes >= LN_ARENA_MAX) return ln_aligned_alloc(bytes);
  const size_t n = (bytes + LN_ALIGN - 1) / LN_ALIGN * LN_ALIGN;
  pthread_mutex_lock(&arena_mu);
  if (!arena_cur || arena_cur->used + n > LN_ARENA_CHUNK) {
    ln_chunk *c = (ln_chunk *)calloc(1, sizeof *c);
    void *base = NULL;
    if (!c || posix_memalign(&base, LN_HUGE, LN_ARENA_CHUNK) != 0) {
      free(c);
      pthread_mutex_unlock(&arena_mu);
      return ln_aligned_alloc(bytes);
    }
#ifdef MADV_HUGEPAGE
    madvise(base, LN_ARENA_CHUNK, MADV_HUGEPAGE);
#endif
    c->base = (uint8_t *)base;
    c->next = arena_chunks;
    arena_chunks = c;
    arena_cur = c;
  }
  void *p = arena_cur->base + arena_cur->used;
  arena_cur->used += n;
  arena_cur->live++;
  pthread_mutex_unlock(&arena_mu);
  return p;
}

void ln_weight_free(void *p) {
  if (!p) return;
  pthread_mutex_lock(&arena_mu);
  for (ln_chunk **pc = &arena_chunks; *pc; pc = &(*pc)->next) {
    ln_chunk *c = *pc;
    if ((uint8_t *)p >= c->base && (uint8_t *)p < c->base + LN_ARENA_CHUNK) {
      if (--c->live == 0) {
        if (c == arena_cur) {
          c->used = 0;  // keep the current chunk for the next weights
        } else {
          *pc = c->next;
          free(c->base);
          free(c);
        }
      }
      pthread_mutex_unlock(&arena_mu);
      return;
    }
  }
  pthread_mutex_unlock(&arena_mu);
  free(p);
}
