// The persistent worker pool (see rnn_pool.h): pthreads and C11 atomics, no compiler flags.
//
// Per pool thread w a slot, on its own cache lines: the job (fn, context, workers) and `state`: IDLE,
// POSTED (the submitter wrote the job, slice w waits for a thread) or TAKEN. Slice w is run by
// whoever moves the state from POSTED to TAKEN: pool thread w, which spins on `state` for a bounded
// time and then sleeps on the slot's condition variable (flagged in `sleeping`, so the submitter takes
// the slot's mutex only when the thread sleeps), or the submitter, which after its own slice takes
// every slice whose thread has not started yet. On a quiet machine thread w is there first, so slice w
// stays on thread w; on a loaded one a thread that is not scheduled does not hold the job up (the
// submitter does its work, as `concurrentPerform`'s caller does). A slot's job is rewritten only by
// the next job, which cannot be submitted before this one's slices are all done (`remaining`), so the
// job fields need no atomics: the CAS that takes a slice acquires the submitter's writes.
//
// Sleep/wake without lost wake-ups (both sides sequentially consistent): the sleeper sets `sleeping`,
// then re-reads the state under the mutex before waiting; the waker writes the state, then reads
// `sleeping` and, if set, signals under the same mutex.
#include "rnn_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_LINE 64

enum { IDLE = 0, POSTED = 1, TAKEN = 2 };

typedef struct {
  _Alignas(CACHE_LINE) atomic_int state;  // IDLE, POSTED, TAKEN (see above)
  rnn_pool_fn fn;
  void *context;
  long workers;
  long index;            // this thread's worker index (1 ...)
  atomic_int sleeping;   // 1 while the thread waits on `wake`
  pthread_mutex_t mutex;
  pthread_cond_t wake;
} slot_t;

static struct {
  _Alignas(CACHE_LINE) atomic_int busy;  // 1 while a job runs (its submitter owns the pool)
  _Alignas(CACHE_LINE) atomic_long remaining;  // slices 1 ... of the current job not finished
  atomic_int submitter_sleeping;
  pthread_mutex_t done_mutex;
  pthread_cond_t done;
  _Alignas(CACHE_LINE) slot_t *slots[RNN_POOL_MAX_WORKERS];  // slots[w] for thread w >= 1
  atomic_long created;  // threads 1 ... created exist
  long spin_ns;         // spin budget before sleeping; < 0 until read
} pool = {
  .done_mutex = PTHREAD_MUTEX_INITIALIZER,
  .done = PTHREAD_COND_INITIALIZER,
  .spin_ns = -1,
};

static _Thread_local long current_worker = 0;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__ __volatile__("pause");
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static inline long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/// The spin budget: RNNCONF_POOL_SPIN_US microseconds (0: sleep at once), default 50 us, about a
/// quarter of a B=32, H=256 recurrent step: long enough to catch the next step's hand-off, short
/// enough not to hold a core another process needs. Read once, by the first submitter (under `busy`).
static long spin_budget(void) {
  if (pool.spin_ns < 0) {
    long us = 50;
    const char *s = getenv("RNNCONF_POOL_SPIN_US");
    if (s && *s) {
      char *end = NULL;
      long v = strtol(s, &end, 10);
      if (end && *end == 0 && v >= 0 && v <= 1000000) us = v;
    }
    pool.spin_ns = us * 1000;
  }
  return pool.spin_ns;
}

/// Spins until `*state == POSTED` (returning 1) or until `budget` ns have passed (returning 0).
static int spin_until_posted(atomic_int *state, long budget) {
  if (budget <= 0) return atomic_load_explicit(state, memory_order_relaxed) == POSTED;
  long long deadline = 0;
  for (unsigned i = 1;; i++) {
    if (atomic_load_explicit(state, memory_order_relaxed) == POSTED) return 1;
    cpu_relax();
    if ((i & 63) == 0) {
      long long t = now_ns();
      if (deadline == 0) deadline = t + budget;
      else if (t >= deadline) return 0;
    }
  }
}

static int spin_while_nonzero(atomic_long *counter, long budget) {
  if (budget <= 0) return atomic_load_explicit(counter, memory_order_acquire) == 0;
  long long deadline = 0;
  for (unsigned i = 1;; i++) {
    if (atomic_load_explicit(counter, memory_order_acquire) == 0) return 1;
    cpu_relax();
    if ((i & 63) == 0) {
      long long t = now_ns();
      if (deadline == 0) deadline = t + budget;
      else if (t >= deadline) return 0;
    }
  }
}

/// Slice `s->index` of the posted job, run by whoever took it; the last slice out wakes the
/// submitter if it sleeps.
static void run_slice(slot_t *s) {
  s->fn(s->context, s->index, s->workers);
  if (atomic_fetch_sub(&pool.remaining, 1) == 1 && atomic_load(&pool.submitter_sleeping)) {
    pthread_mutex_lock(&pool.done_mutex);
    pthread_cond_signal(&pool.done);
    pthread_mutex_unlock(&pool.done_mutex);
  }
}

/// Takes slice `s->index` if it is still waiting for a thread (POSTED -> TAKEN).
static inline int take(slot_t *s) {
  int expected = POSTED;
  return atomic_compare_exchange_strong_explicit(&s->state, &expected, TAKEN, memory_order_acquire,
                                                 memory_order_relaxed);
}

static void *worker_main(void *arg) {
  slot_t *s = (slot_t *)arg;
  current_worker = s->index;
  long budget = pool.spin_ns;  // set before the first thread is created
  for (;;) {
    if (!spin_until_posted(&s->state, budget)) {
      pthread_mutex_lock(&s->mutex);
      atomic_store(&s->sleeping, 1);
      while (atomic_load(&s->state) != POSTED) pthread_cond_wait(&s->wake, &s->mutex);
      atomic_store(&s->sleeping, 0);
      pthread_mutex_unlock(&s->mutex);
    }
    // the submitter may have taken the slice meanwhile (it then runs it): wait for the next job
    if (take(s)) run_slice(s);
  }
  return NULL;
}

/// Creates threads up to `wanted` - 1 (called by the submitter that owns the pool). Returns how many
/// exist.
static long grow(long wanted) {
  long have = atomic_load(&pool.created);
  while (have < wanted - 1) {
    long w = have + 1;
    slot_t *s = NULL;
    if (posix_memalign((void **)&s, CACHE_LINE, sizeof(slot_t)) != 0 || !s) break;
    memset(s, 0, sizeof *s);
    atomic_init(&s->state, IDLE);
    atomic_init(&s->sleeping, 0);
    s->index = w;
    pthread_mutex_init(&s->mutex, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int rc = pthread_create(&thread, &attr, worker_main, s);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      pthread_cond_destroy(&s->wake);
      pthread_mutex_destroy(&s->mutex);
      free(s);
      break;
    }
    pool.slots[w] = s;
    have = w;
    atomic_store(&pool.created, have);
  }
  return have;
}

long rnn_pool_run(long workers, rnn_pool_fn fn, void *context) {
  if (workers < 2 || !fn) return 0;
  if (workers > RNN_POOL_MAX_WORKERS) workers = RNN_POOL_MAX_WORKERS;
  int expected = 0;
  if (!atomic_compare_exchange_strong_explicit(&pool.busy, &expected, 1, memory_order_acquire,
                                               memory_order_relaxed)) {
    return 0;  // another job is running (nested call or another thread): the caller runs inline
  }
  long budget = spin_budget();
  long have = grow(workers);
  if (have + 1 < workers) workers = have + 1;
  if (workers < 2) {
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
    return 0;
  }
  atomic_store_explicit(&pool.remaining, workers - 1, memory_order_relaxed);
  for (long w = 1; w < workers; w++) {
    slot_t *s = pool.slots[w];
    s->fn = fn;
    s->context = context;
    s->workers = workers;
    atomic_store(&s->state, POSTED);  // seq_cst: publishes the job and `remaining`
    if (atomic_load(&s->sleeping)) {
      pthread_mutex_lock(&s->mutex);
      pthread_cond_signal(&s->wake);
      pthread_mutex_unlock(&s->mutex);
    }
  }
  fn(context, 0, workers);
  // slices whose thread has not started by now (not scheduled, or still waking up): run them here
  for (long w = 1; w < workers; w++) {
    slot_t *s = pool.slots[w];
    if (take(s)) run_slice(s);
  }
  if (!spin_while_nonzero(&pool.remaining, budget)) {
    pthread_mutex_lock(&pool.done_mutex);
    atomic_store(&pool.submitter_sleeping, 1);
    while (atomic_load(&pool.remaining) != 0) pthread_cond_wait(&pool.done, &pool.done_mutex);
    atomic_store(&pool.submitter_sleeping, 0);
    pthread_mutex_unlock(&pool.done_mutex);
  }
  atomic_thread_fence(memory_order_acquire);  // the workers' writes happen before our return
  atomic_store_explicit(&pool.busy, 0, memory_order_release);
  return workers;
}

long rnn_pool_threads(void) { return atomic_load(&pool.created); }

long rnn_pool_current_worker(void) { return current_worker; }
