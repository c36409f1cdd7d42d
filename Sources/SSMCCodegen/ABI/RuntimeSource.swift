/// The model-independent C of every compiled library: context, thread pool, argument checks.
///
/// Everything here is `static` or hidden, so two models in one process never share or clash; the kernel
/// reaches the pool only through the hidden `ssmc_parallel_for`. The pool is persistent: between jobs,
/// workers spin briefly and then sleep on a condition variable. Work is claimed dynamically in chunks by the
/// calling thread and whichever workers arrive, so a worker delayed by a busy machine costs no waiting.
enum RuntimeSource {
  /// `ssmc_type_name` and `ssmc_element_size`, switches over `ModelSignature.elementTypes`. Sizes are asked
  /// only of a tensor info's type, always one of those (the compiler checks); names also of a caller's
  /// wrong code, for the error message.
  static let elementTypeFunctions: String = {
    let types = ModelSignature.elementTypes
    return """
      static const char *ssmc_type_name(int32_t code) {
        switch (code) {
      \(types.map { "  case \($0.code): return \(cStringLiteral($0.name));" }.joined(separator: "\n"))
        default: return "unknown";
        }
      }

      static int64_t ssmc_element_size(int32_t code) {
        switch (code) {
      \(types.map { "  case \($0.code): return \($0.byteSize);" }.joined(separator: "\n"))
        default: return 0;
        }
      }
      """
  }()

  static let text = #"""
    #ifndef _GNU_SOURCE
    #define _GNU_SOURCE
    #endif
    #include <pthread.h>
    #include <stdarg.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include <time.h>
    #include <unistd.h>

    typedef void (*ssmc_body_fn)(void *closure, int64_t begin, int64_t end);

    /* One parallel_for call, on the caller's stack. Participants claim `grain` items at a time from `next`,
       so a thread that runs late (or not at all, on a busy machine) leaves its share to the others. */
    typedef struct ssmc_job {
      ssmc_body_fn body;
      void *closure;
      int64_t n, grain;
      int64_t next;     /* atomic: first unclaimed item */
      int32_t active;   /* atomic: workers inside the job; joins happen under the pool mutex */
    } ssmc_job;

    typedef struct ssmc_pool {
      pthread_mutex_t mutex;
      pthread_cond_t wake;     /* workers wait here for a new generation or stop */
      pthread_cond_t done;     /* the caller waits here for the job's active workers to leave */
      pthread_t *threads;
      int32_t num_threads;     /* wanted, the calling thread included */
      int32_t num_workers;     /* started, the calling thread excluded */
      uint64_t generation;     /* atomic reads (workers spin on it); written under the mutex */
      int stop;                /* atomic reads; written under the mutex */
      ssmc_job *job;           /* the open job, NULL once its caller has run out of items */
    } ssmc_pool;

    /* `seen` is the generation at creation: read later, a job posted before the worker first locks would be missed. */
    typedef struct ssmc_worker_arg { ssmc_pool *pool; int32_t index; uint64_t seen; } ssmc_worker_arg;

    /* Set while this thread runs a body: a nested parallel_for then runs serially. */
    static __thread int ssmc_in_parallel;

    /* Spin iterations (a pause each, tens of microseconds in all) before a worker sleeps: jobs come in quick
       succession, one per node, and waking a sleeping thread costs more than most of them. */
    #define SSMC_SPIN 4000

    static inline void ssmc_pause(void) {
    #if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
    #endif
    }

    static void ssmc_job_work(ssmc_job *job) {
      ssmc_in_parallel = 1;
      for (;;) {
        int64_t begin = __atomic_fetch_add(&job->next, job->grain, __ATOMIC_RELAXED);
        if (begin >= job->n) break;
        int64_t end = job->n - begin > job->grain ? begin + job->grain : job->n;
        job->body(job->closure, begin, end);
      }
      ssmc_in_parallel = 0;
    }

    static void *ssmc_worker_main(void *raw) {
      ssmc_worker_arg arg = *(ssmc_worker_arg *)raw;
      free(raw);
      ssmc_pool *p = arg.pool;
      uint64_t seen = arg.seen;
      for (;;) {
        for (int spin = 0; spin < SSMC_SPIN && __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE) == seen &&
                           !__atomic_load_n(&p->stop, __ATOMIC_RELAXED); spin++)
          ssmc_pause();
        pthread_mutex_lock(&p->mutex);
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->wake, &p->mutex);
        if (p->stop) break;
        seen = p->generation;
        ssmc_job *job = p->job;
        if (job) __atomic_add_fetch(&job->active, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&p->mutex);
        if (!job) continue;  /* its caller already did all of it */
        ssmc_job_work(job);
        /* The job lives on its caller's stack: after this decrement it may be gone. */
        if (__atomic_sub_fetch(&job->active, 1, __ATOMIC_ACQ_REL) == 0) {
          pthread_mutex_lock(&p->mutex);
          pthread_cond_signal(&p->done);
          pthread_mutex_unlock(&p->mutex);
        }
      }
      pthread_mutex_unlock(&p->mutex);
      return NULL;
    }

    static int32_t ssmc_online_cpus(void) {
      long n = sysconf(_SC_NPROCESSORS_ONLN);
      return n < 1 ? 1 : (n > 1024 ? 1024 : (int32_t)n);
    }

    static void ssmc_pool_init(ssmc_pool *p) {
      memset(p, 0, sizeof *p);
      pthread_mutex_init(&p->mutex, NULL);
      pthread_cond_init(&p->wake, NULL);
      pthread_cond_init(&p->done, NULL);
      p->num_threads = ssmc_online_cpus();
    }

    static void ssmc_pool_stop(ssmc_pool *p) {
      if (p->num_workers == 0) return;
      pthread_mutex_lock(&p->mutex);
      __atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
      pthread_cond_broadcast(&p->wake);
      pthread_mutex_unlock(&p->mutex);
      for (int32_t i = 0; i < p->num_workers; i++) pthread_join(p->threads[i], NULL);
      free(p->threads);
      p->threads = NULL;
      p->num_workers = 0;
      p->stop = 0;
    }

    static void ssmc_pool_destroy(ssmc_pool *p) {
      ssmc_pool_stop(p);
      pthread_mutex_destroy(&p->mutex);
      pthread_cond_destroy(&p->wake);
      pthread_cond_destroy(&p->done);
    }

    /* Starts the workers on first use; with fewer threads than asked for if the system refuses more. */
    static void ssmc_pool_start(ssmc_pool *p) {
      int32_t wanted = p->num_threads - 1;
      if (p->num_workers > 0 || wanted <= 0) return;
      p->threads = (pthread_t *)calloc((size_t)wanted, sizeof(pthread_t));
      if (!p->threads) return;
      for (int32_t i = 0; i < wanted; i++) {
        ssmc_worker_arg *arg = (ssmc_worker_arg *)malloc(sizeof *arg);
        if (!arg) break;
        arg->pool = p;
        arg->index = i + 1;
        arg->seen = p->generation;
        if (pthread_create(&p->threads[i], NULL, ssmc_worker_main, arg) != 0) { free(arg); break; }
        p->num_workers++;
      }
    }

    __attribute__((visibility("hidden")))
    void ssmc_parallel_for(void *pool, int64_t n, ssmc_body_fn body, void *closure) {
      ssmc_pool *p = (ssmc_pool *)pool;
      if (n <= 0) return;
      if (!p || ssmc_in_parallel || p->num_threads <= 1 || n == 1) {
        body(closure, 0, n);
        return;
      }
      ssmc_pool_start(p);
      if (p->num_workers == 0) {
        body(closure, 0, n);
        return;
      }
      /* About sixteen claims per thread: a thread slowed by the machine (a busy or preempted core) then
         costs at most a sixteenth of its share, while each claim still amortizes its one atomic add. */
      int64_t claims = 16 * (int64_t)(p->num_workers + 1);
      ssmc_job job = {body, closure, n, n > claims ? n / claims : 1, 0, 0};
      pthread_mutex_lock(&p->mutex);
      p->job = &job;
      __atomic_add_fetch(&p->generation, 1, __ATOMIC_RELEASE);
      pthread_cond_broadcast(&p->wake);
      pthread_mutex_unlock(&p->mutex);
      ssmc_job_work(&job);
      /* No item is left to claim: close the job to late workers, then wait for the ones inside it. */
      pthread_mutex_lock(&p->mutex);
      p->job = NULL;
      pthread_mutex_unlock(&p->mutex);
      for (int spin = 0; spin < SSMC_SPIN && __atomic_load_n(&job.active, __ATOMIC_ACQUIRE) > 0; spin++) ssmc_pause();
      pthread_mutex_lock(&p->mutex);
      while (__atomic_load_n(&job.active, __ATOMIC_ACQUIRE) > 0) pthread_cond_wait(&p->done, &p->mutex);
      pthread_mutex_unlock(&p->mutex);
    }

    struct ssmc_context {
      const void *model;  /* this library's ssmc_model_tag: rejects another model's context */
      void *scratch;
      size_t scratch_bytes; /* grows when a run with run-time extents needs more */
      int64_t *profile;   /* per node: wall ns, CPU ns, calls; NULL unless compiled with --profile */
      ssmc_pool pool;
      char error[768];
    };

    static const char ssmc_model_tag = 0;

    static int32_t ssmc_fail(ssmc_context *ctx, int32_t status, const char *format, ...) {
      va_list args;
      va_start(args, format);
      vsnprintf(ctx->error, sizeof ctx->error, format, args);
      va_end(args);
      return status;
    }

    \#(elementTypeFunctions)

    /* Appends "[d0, d1, ...]" to out (used bytes in *used), "?" on the batch axis `axis` (-1: none); NULL dims
       print as "[]". */
    static void ssmc_append_shape(char *out, size_t size, size_t *used, int32_t rank, const int64_t *dims, int32_t axis) {
      if (*used < size) *used += (size_t)snprintf(out + *used, size - *used, "[");
      for (int32_t j = 0; dims && j < rank && *used < size; j++) {
        if (j == axis)
          *used += (size_t)snprintf(out + *used, size - *used, j ? ", ?" : "?");
        else
          *used += (size_t)snprintf(out + *used, size - *used, j ? ", %lld" : "%lld", (long long)dims[j]);
      }
      if (*used < size) *used += (size_t)snprintf(out + *used, size - *used, "]");
    }

    static void ssmc_format_dims(char *out, size_t size, int32_t rank, const int64_t *dims) {
      size_t used = 0;
      ssmc_append_shape(out, size, &used, rank, dims, -1);
    }

    /* The dims a tensor has in a batch of `samples`: one sample's dims `one`, times `samples` on `sample_axis`
       (if >= 0). */
    static void ssmc_batch_dims(int32_t rank, const int64_t *one, int32_t sample_axis, int64_t samples, int64_t *dims) {
      for (int32_t j = 0; j < rank; j++) dims[j] = j == sample_axis ? one[j] * samples : one[j];
    }

    /* Bytes of one sample of a tensor whose one-sample dims are `one`. */
    static int64_t ssmc_sample_bytes(const ssmc_tensor_info *info, const int64_t *one) {
      int64_t count = 1;
      for (int32_t j = 0; j < info->rank; j++) count *= one[j];
      return count * ssmc_element_size(info->elem_type);
    }

    /* The batch size the tensors give for one-sample dims `dims` (1 without a run-time batch), reporting a
       batched dim that is no whole number of samples. Other mismatches are left to ssmc_check_tensor. */
    static int32_t ssmc_batch_of(ssmc_context *ctx, int32_t count, const ssmc_tensor *given, const ssmc_tensor_info *infos,
                                 const int32_t *axes, const int64_t *const *dims, int64_t *samples) {
      *samples = 1;
      for (int32_t i = 0; i < count; i++) {
        int32_t axis = axes[i];
        if (axis < 0) continue;
        const ssmc_tensor *t = &given[i];
        if (t->rank != infos[i].rank || !t->dims) break; /* ssmc_check_tensor reports it */
        int64_t extent = dims[i][axis];
        if (t->dims[axis] < 0 || extent <= 0 || t->dims[axis] % extent != 0)
          return ssmc_fail(ctx, SSMC_ERROR_SHAPE_MISMATCH, "input %d '%s': dim %d is %lld, not a batch of samples of %lld",
                           i, infos[i].name, axis, (long long)t->dims[axis], (long long)extent);
        *samples = t->dims[axis] / extent;
        break;
      }
      return SSMC_OK;
    }

    /* The batch size if the tensors have the shapes `dims` (one sample's; whole batches along `axes`), else -1. */
    static int64_t ssmc_fit(int32_t count, const ssmc_tensor *given, const ssmc_tensor_info *infos, const int32_t *axes,
                            const int64_t *const *dims) {
      int64_t samples = -1;
      for (int32_t i = 0; i < count; i++) {
        const ssmc_tensor *t = &given[i];
        if (t->rank != infos[i].rank || (t->rank > 0 && !t->dims)) return -1;
        for (int32_t j = 0; j < t->rank; j++) {
          if (j != axes[i]) {
            if (dims[i][j] >= 0 && t->dims[j] != dims[i][j]) return -1; /* -1: given at run time */
            continue;
          }
          if (dims[i][j] <= 0 || t->dims[j] < 0 || t->dims[j] % dims[i][j] != 0) return -1;
          int64_t s = t->dims[j] / dims[i][j];
          if (samples >= 0 && s != samples) return -1;
          samples = s;
        }
      }
      return samples < 0 ? 1 : samples;
    }

    /* The error for inputs that have none of the compiled shapes: what was given and what each variant takes. */
    static int32_t ssmc_report_no_variant(ssmc_context *ctx, int32_t count, const ssmc_tensor *given,
                                          const ssmc_tensor_info *infos, const int32_t *axes, int32_t num_variants,
                                          const int64_t *const *const *variant_dims) {
      size_t size = sizeof ctx->error, used = 0;
      char *out = ctx->error;
      used += (size_t)snprintf(out, size, "the inputs have none of the %d shapes the model was compiled for; given", num_variants);
      for (int32_t i = 0; i < count && used < size; i++) {
        const ssmc_tensor *t = &given[i];
        int32_t rank = t->rank < 0 ? 0 : (t->rank > 64 ? 64 : t->rank);
        used += (size_t)snprintf(out + used, size - used, "%s '%s' ", i ? "," : "", infos[i].name);
        ssmc_append_shape(out, size, &used, rank, t->dims, -1);
      }
      for (int32_t v = 0; v < num_variants && used < size; v++) {
        used += (size_t)snprintf(out + used, size - used, v ? "; or" : "; compiled:");
        for (int32_t i = 0; i < count && used < size; i++) {
          used += (size_t)snprintf(out + used, size - used, "%s '%s' ", i ? "," : "", infos[i].name);
          ssmc_append_shape(out, size, &used, infos[i].rank, variant_dims[v][i], axes[i]);
        }
      }
      return SSMC_ERROR_SHAPE_MISMATCH;
    }

    /* Checks one caller tensor against the model's description of it and the dims it must have. */
    static int32_t ssmc_check_tensor(ssmc_context *ctx, const char *role, int32_t index, const ssmc_tensor *t,
                                     const ssmc_tensor_info *info, const int64_t *wanted) {
      char expected[256], given[256];
      if (t->elem_type != info->elem_type)
        return ssmc_fail(ctx, SSMC_ERROR_INVALID_ARGUMENT, "%s %d '%s': expected element type %s (%d), given %s (%d)",
                         role, index, info->name, ssmc_type_name(info->elem_type), info->elem_type,
                         ssmc_type_name(t->elem_type), t->elem_type);
      if (t->rank < 0 || (t->rank > 0 && !t->dims))
        return ssmc_fail(ctx, SSMC_ERROR_INVALID_ARGUMENT, "%s %d '%s': rank %d with %s dims", role, index,
                         info->name, t->rank, t->dims ? "given" : "NULL");
      int mismatch = t->rank != info->rank;
      int64_t count = 1;
      for (int32_t i = 0; !mismatch && i < t->rank; i++) {
        mismatch = t->dims[i] != wanted[i];
        count *= wanted[i];
      }
      if (mismatch) {
        ssmc_format_dims(expected, sizeof expected, info->rank, wanted);
        ssmc_format_dims(given, sizeof given, t->rank < 64 ? t->rank : 64, t->dims);
        return ssmc_fail(ctx, SSMC_ERROR_SHAPE_MISMATCH, "%s %d '%s': expected shape %s, given %s",
                         role, index, info->name, expected, given);
      }
      if (!t->data && count > 0)
        return ssmc_fail(ctx, SSMC_ERROR_INVALID_ARGUMENT, "%s %d '%s': data is NULL", role, index, info->name);
      return SSMC_OK;
    }

    /* Checks `count` caller tensors of one role for a batch of `samples` of one-sample dims `dims`, and returns
       each one's data and the bytes between its samples (0 for a tensor without a sample axis). */
    static int32_t ssmc_bind_tensors(ssmc_context *ctx, const char *role, int32_t count, const ssmc_tensor *given,
                                     const ssmc_tensor_info *infos, const int32_t *axes, const int64_t *const *dims,
                                     int64_t samples, char **data, int64_t *steps) {
      int64_t wanted[64]; /* the compiler limits ranks to 64 */
      for (int32_t i = 0; i < count; i++) {
        ssmc_batch_dims(infos[i].rank, dims[i], axes[i], samples, wanted);
        int32_t status = ssmc_check_tensor(ctx, role, i, &given[i], &infos[i], wanted);
        if (status != SSMC_OK) return status;
        data[i] = (char *)given[i].data;
        steps[i] = axes[i] < 0 ? 0 : ssmc_sample_bytes(&infos[i], dims[i]);
      }
      return SSMC_OK;
    }
    """#
}
