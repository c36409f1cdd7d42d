/* Client of two ssmc-compiled models through their generated headers, linked into one program.
 * Checks metadata, argument and shape errors, and the numbers against double-precision libm.
 * Prints "all checks passed" on stderr and exits 0 on success. */
#include "expmodel.h"
#include "relumodel.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond, ...)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "FAIL line %d: %s: ", __LINE__, #cond);         \
      fprintf(stderr, __VA_ARGS__);                                   \
      fprintf(stderr, "\n");                                          \
      failures++;                                                     \
    }                                                                 \
  } while (0)

static void check_exp_model(void) {
  CHECK(expmodel_num_inputs() == 1 && expmodel_num_outputs() == 1, "counts");
  const ssmc_tensor_info *info = expmodel_input_info(0);
  CHECK(info && strcmp(info->name, "x") == 0 && info->elem_type == SSMC_FLOAT && info->rank == 1 &&
            info->dims[0] == 1000, "input info");
  CHECK(expmodel_input_info(1) == NULL && expmodel_input_info(-1) == NULL && expmodel_output_info(1) == NULL,
        "out-of-range info must be NULL");
  int64_t variant_dims[1] = {0};
  CHECK(expmodel_num_shape_variants() == 1 && expmodel_shape_variant_input_dims(0, 0, variant_dims) == SSMC_OK &&
            variant_dims[0] == 1000, "one shape variant: the input's shape");
  CHECK(expmodel_shape_variant_input_dims(1, 0, variant_dims) == SSMC_ERROR_INVALID_ARGUMENT &&
            expmodel_shape_variant_input_dims(0, 1, variant_dims) == SSMC_ERROR_INVALID_ARGUMENT &&
            expmodel_shape_variant_input_dims(0, 0, NULL) == SSMC_ERROR_INVALID_ARGUMENT, "variant index checks");

  static float x[1000], y[1000];
  for (int i = 0; i < 1000; i++) x[i] = (float)(-40.0 + 80.0 * i / 999.0);
  int64_t dims[1] = {1000};
  ssmc_context *ctx = expmodel_create();
  CHECK(ctx != NULL, "create");
  if (!ctx) return;
  CHECK(expmodel_set_num_threads(ctx, 2) == SSMC_OK, "threads");
  CHECK(strcmp(expmodel_last_error(ctx), "") == 0, "no error yet");
  ssmc_tensor in = {x, SSMC_FLOAT, 1, dims}, out = {y, SSMC_FLOAT, 1, dims};
  for (int round = 0; round < 3; round++) { /* the pool is reused across runs */
    memset(y, 0, sizeof y);
    int32_t status = expmodel_run(ctx, &in, 1, &out, 1);
    CHECK(status == SSMC_OK, "run: %s", expmodel_last_error(ctx));
    double worst = 0;
    for (int i = 0; i < 1000; i++) {
      double ref = exp((double)x[i]) * 2.0 + (double)x[i];
      double rel = fabs(y[i] - ref) / fmax(fabs(ref), 1.0);
      if (rel > worst) worst = rel;
    }
    CHECK(worst < 2e-6, "max relative error %g", worst);
  }

  /* Shape mismatch: an error code and a message naming the tensor and both shapes. */
  int64_t short_dims[1] = {999};
  ssmc_tensor bad = {x, SSMC_FLOAT, 1, short_dims};
  CHECK(expmodel_run(ctx, &bad, 1, &out, 1) == SSMC_ERROR_SHAPE_MISMATCH, "shape mismatch status");
  const char *message = expmodel_last_error(ctx);
  CHECK(strstr(message, "'x'") && strstr(message, "[1000]") && strstr(message, "[999]"), "message: %s", message);
  ssmc_tensor bad_out = {y, SSMC_FLOAT, 2, dims};
  CHECK(expmodel_run(ctx, &in, 1, &bad_out, 1) == SSMC_ERROR_SHAPE_MISMATCH, "rank mismatch status");
  ssmc_tensor bad_type = {x, SSMC_DOUBLE, 1, dims};
  CHECK(expmodel_run(ctx, &bad_type, 1, &out, 1) == SSMC_ERROR_INVALID_ARGUMENT, "type mismatch status");
  message = expmodel_last_error(ctx);
  CHECK(strstr(message, "float32 (1)") && strstr(message, "float64 (11)"), "message: %s", message);
  ssmc_tensor unknown_type = {x, 99, 1, dims};
  CHECK(expmodel_run(ctx, &unknown_type, 1, &out, 1) == SSMC_ERROR_INVALID_ARGUMENT, "unknown type status");
  message = expmodel_last_error(ctx);
  CHECK(strstr(message, "unknown (99)"), "message: %s", message);
  ssmc_tensor null_dims = {x, SSMC_FLOAT, 1, NULL};
  CHECK(expmodel_run(ctx, &null_dims, 1, &out, 1) == SSMC_ERROR_INVALID_ARGUMENT, "NULL dims");
  ssmc_tensor null_data = {NULL, SSMC_FLOAT, 1, dims};
  CHECK(expmodel_run(ctx, &null_data, 1, &out, 1) == SSMC_ERROR_INVALID_ARGUMENT, "NULL data");
  CHECK(expmodel_run(ctx, NULL, 1, &out, 1) == SSMC_ERROR_INVALID_ARGUMENT, "NULL inputs");
  CHECK(expmodel_run(ctx, &in, 2, &out, 1) == SSMC_ERROR_INVALID_ARGUMENT, "count mismatch");
  CHECK(expmodel_run(NULL, &in, 1, &out, 1) == SSMC_ERROR_INVALID_ARGUMENT, "NULL context");
  CHECK(expmodel_set_num_threads(ctx, -1) == SSMC_ERROR_INVALID_ARGUMENT, "negative threads");
  CHECK(strlen(expmodel_last_error(NULL)) > 0, "NULL context message");
  /* A context of another model is refused, not misused. */
  ssmc_context *other = relumodel_create();
  CHECK(expmodel_run(other, &in, 1, &out, 1) == SSMC_ERROR_INVALID_ARGUMENT, "foreign context");
  relumodel_destroy(other);
  /* A good run after errors clears the message. */
  CHECK(expmodel_run(ctx, &in, 1, &out, 1) == SSMC_OK && strcmp(expmodel_last_error(ctx), "") == 0, "recovery");
  expmodel_destroy(ctx);
  expmodel_destroy(NULL);
}

static void check_relu_model(void) {
  float x[20], y[20];
  int64_t positives = -1, dims[2] = {4, 5}, one[1] = {1};
  int64_t expected_count = 0;
  for (int i = 0; i < 20; i++) {
    x[i] = (float)((i * 7) % 11) - 5.0f;
    if (x[i] > 0) expected_count++;
  }
  ssmc_context *ctx = relumodel_create();
  ssmc_tensor in = {x, SSMC_FLOAT, 2, dims};
  ssmc_tensor out[2] = {{y, SSMC_FLOAT, 2, dims}, {&positives, SSMC_INT64, 1, one}};
  CHECK(relumodel_run(ctx, &in, 1, out, 2) == SSMC_OK, "relu run: %s", relumodel_last_error(ctx));
  for (int i = 0; i < 20; i++) CHECK(y[i] == (x[i] > 0 ? x[i] * 3 : 0), "y[%d] = %g", i, y[i]);
  CHECK(positives == expected_count, "positives %lld, expected %lld", (long long)positives, (long long)expected_count);
  relumodel_destroy(ctx);
}

/* Separate contexts of one model run concurrently, each with its own pool. */
static void *run_many(void *arg) {
  static const int64_t dims[1] = {1000};
  float x[1000], y[1000];
  float offset = (float)(intptr_t)arg;
  for (int i = 0; i < 1000; i++) x[i] = offset + (float)i / 100.0f;
  ssmc_context *ctx = expmodel_create();
  if (!ctx) return (void *)1;
  ssmc_tensor in = {x, SSMC_FLOAT, 1, dims}, out = {y, SSMC_FLOAT, 1, dims};
  intptr_t bad = 0;
  for (int round = 0; round < 50; round++) {
    if (expmodel_run(ctx, &in, 1, &out, 1) != SSMC_OK) bad++;
    for (int i = 0; i < 1000; i++) {
      double ref = exp((double)x[i]) * 2.0 + (double)x[i];
      if (fabs(y[i] - ref) > 2e-6 * fmax(fabs(ref), 1.0)) bad++;
    }
  }
  expmodel_destroy(ctx);
  return (void *)bad;
}

static void check_concurrent_contexts(void) {
  pthread_t threads[3];
  for (intptr_t t = 0; t < 3; t++) CHECK(pthread_create(&threads[t], NULL, run_many, (void *)(t * 3 - 3)) == 0, "thread");
  for (int t = 0; t < 3; t++) {
    void *bad = NULL;
    pthread_join(threads[t], &bad);
    CHECK(bad == NULL, "thread %d: %ld bad results", t, (long)(intptr_t)bad);
  }
}

int main(void) {
  check_exp_model();
  check_relu_model();
  check_concurrent_contexts();
  if (failures) return 1;
  fprintf(stderr, "all checks passed\n");
  return 0;
}
