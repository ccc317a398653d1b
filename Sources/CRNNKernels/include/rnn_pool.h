// A persistent worker pool for the RNNRef backends' parallel-for (`parallelSlices`).
//
// Threads are created once, lazily, and never exit. Worker w of a job runs on pool thread w (worker 0
// on the calling thread), so when the same job shape repeats (one per recurrent step) a thread keeps
// touching the same slice of the weights, which stays in its core's cache. Hand-off: the submitter
// posts the job in each worker's own slot, the thread spins a short, bounded time on its slot, then
// blocks on a condition variable, so an oversubscribed machine does not lose a core to spinning. A
// slice whose thread has not started it when the submitter has finished its own (the thread is not
// scheduled, or still waking) is run by the submitter, so a descheduled thread never holds a job up.
//
// One job at a time: a submitter that finds the pool running another job (a call from inside a job,
// or from another thread at the same moment) gets 0 back and runs its work itself. Nothing ever waits
// for the pool to become free, so there is no deadlock whatever calls whatever.
#ifndef RNN_POOL_H
#define RNN_POOL_H

#ifdef __cplusplus
extern "C" {
#endif

/// The work of one job: called once per worker `worker` in 0 ..< `workers`, concurrently.
typedef void (*rnn_pool_fn)(void *context, long worker, long workers);

/// Runs `fn(context, w, n)` for every w in 0 ..< n, w = 0 on the calling thread, w >= 1 on pool
/// thread w (or on the calling thread, after its own, if thread w had not started it), and returns n
/// when every call has returned. n is `workers`, or fewer when the system
/// refused to create a thread (at least 2). Returns 0 and calls nothing when the pool is running
/// another job, when `workers` < 2 or when no thread could be created: the caller then does the work
/// itself. `workers` is capped at RNN_POOL_MAX_WORKERS.
long rnn_pool_run(long workers, rnn_pool_fn fn, void *context);

/// Pool threads created so far (not counting callers).
long rnn_pool_threads(void);

/// The pool thread index of the calling thread (1, 2, ...), or 0 for a thread the pool did not create.
long rnn_pool_current_worker(void);

/// The most workers one job can have.
#define RNN_POOL_MAX_WORKERS 256

#ifdef __cplusplus
}
#endif

#endif
