/* A hand-written model library with ssmc's generic C ABI (the ssmc_* symbols a compiled model exports),
 * so the run/check commands can be tested without the compiler: one float32 input x [2, 3], outputs
 * y = 2 * x + 1 (float32 [2, 3]) and positives = count of x > 0 (int64 [1]). */
#include <stdint.h>
#include <stdlib.h>

typedef struct ssmc_tensor { void *data; int32_t elem_type; int32_t rank; const int64_t *dims; } ssmc_tensor;
typedef struct ssmc_tensor_info { const char *name; int32_t elem_type; int32_t rank; const int64_t *dims; } ssmc_tensor_info;
typedef struct ssmc_context { const char *error; int32_t threads; } ssmc_context;

static const int64_t dims_2x3[2] = {2, 3};
static const int64_t dims_1[1] = {1};
static const ssmc_tensor_info inputs[1] = {{"x", 1, 2, dims_2x3}};
static const ssmc_tensor_info outputs[2] = {{"y", 1, 2, dims_2x3}, {"positives", 7, 1, dims_1}};

const char *ssmc_name(void) { return "affine"; }
int32_t ssmc_num_inputs(void) { return 1; }
int32_t ssmc_num_outputs(void) { return 2; }
const ssmc_tensor_info *ssmc_input_info(int32_t i) { return i == 0 ? &inputs[0] : NULL; }
const ssmc_tensor_info *ssmc_output_info(int32_t i) { return i >= 0 && i < 2 ? &outputs[i] : NULL; }
ssmc_context *ssmc_create(void) { return calloc(1, sizeof(ssmc_context)); }
void ssmc_destroy(ssmc_context *ctx) { free(ctx); }
const char *ssmc_last_error(const ssmc_context *ctx) { return ctx && ctx->error ? ctx->error : ""; }

int32_t ssmc_set_num_threads(ssmc_context *ctx, int32_t n) {
  if (!ctx || n < 0) return 1;
  ctx->threads = n;
  return 0;
}

int32_t ssmc_run(ssmc_context *ctx, const ssmc_tensor *in, int32_t num_inputs, ssmc_tensor *out, int32_t num_outputs) {
  if (!ctx) return 1;
  if (num_inputs != 1 || num_outputs != 2 || !in || !out) {
    ctx->error = "wrong tensor count";
    return 1;
  }
  const float *x = in[0].data;
  float *y = out[0].data;
  int64_t positives = 0;
  for (int i = 0; i < 6; i++) {
    y[i] = 2.0f * x[i] + 1.0f;
    positives += x[i] > 0;
  }
  *(int64_t *)out[1].data = positives;
  ctx->error = NULL;
  return 0;
}
