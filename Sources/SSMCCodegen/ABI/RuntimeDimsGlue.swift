/// The C glue for extents given at run time: binding a variant's run-time symbols from the caller's input
/// dims, asking the kernel's shape function for the output dims and the scratch the call needs, and growing
/// the context's scratch to it. A variant without run-time symbols resolves to its static tables.
enum RuntimeDimsGlue {
  /// Per variant with run-time symbols: their names and, per input, the symbol each dim gives (-1: none).
  static func variantTables(_ variant: ModelSignature, index v: Int) -> String {
    guard !variant.runtimeSymbols.isEmpty else { return "" }
    var text = "void \(variant.kernelSymbol)_shapes(const int64_t *symbols, int64_t *out);\n"
    text += "static const char *const ssmc_v\(v)_symbol_names[] = {\(variant.runtimeSymbols.map(cStringLiteral).joined(separator: ", "))};\n"
    for (i, t) in variant.inputs.enumerated() where !t.dims.isEmpty {
      let symbols = t.dims.indices.map { axis in axis < t.dimSymbols.count ? t.dimSymbols[axis].map(String.init) ?? "-1" : "-1" }
      text += "static const int32_t ssmc_v\(v)_input_symbols_\(i)[] = {\(symbols.joined(separator: ", "))};\n"
    }
    let pointers = variant.inputs.enumerated().map { i, t in t.dims.isEmpty ? "NULL" : "ssmc_v\(v)_input_symbols_\(i)" }
    text += "static const int32_t *const ssmc_v\(v)_input_symbols[] = {\((pointers.isEmpty ? ["NULL"] : pointers).joined(separator: ", "))};\n"
    let checks = variant.runtimeChecks.map(cStringLiteral)
    text += "static const char *const ssmc_v\(v)_checks[] = {\((checks.isEmpty ? ["NULL"] : checks).joined(separator: ", "))};\n"
    return text
  }

  /// The run-time symbol fields of the variant's `ssmc_shape_variant` entry.
  static func variantEntry(_ variant: ModelSignature, index v: Int) -> String {
    guard !variant.runtimeSymbols.isEmpty else { return "0, NULL, NULL, NULL, NULL" }
    return "\(variant.runtimeSymbols.count), ssmc_v\(v)_symbol_names, ssmc_v\(v)_input_symbols, \(variant.kernelSymbol)_shapes, ssmc_v\(v)_checks"
  }

  /// `ssmc_resolve` and `ssmc_reserve_scratch`, after the variant tables.
  static let resolve = #"""
    /* One call's concrete shapes: the run-time symbols' values, every input's and output's one-sample dims,
       and the scratch bytes the kernel needs. */
    typedef struct ssmc_resolved {
      int64_t symbols[SSMC_MAX_SYMBOLS];
      int64_t input_storage[SSMC_NUM_INPUT_DIMS];
      int64_t output_storage[SSMC_NUM_OUTPUT_DIMS + 1];
      const int64_t *input_dims[SSMC_NUM_INPUTS + 1];
      const int64_t *output_dims[SSMC_NUM_OUTPUTS + 1];
      size_t scratch_bytes;
    } ssmc_resolved;

    /* The shapes variant `v` has for these inputs: its tables, or with run-time symbols, the symbols bound from
       the inputs' dims (each at least 1, equal wherever it recurs) and what the shape function computes. */
    static int32_t ssmc_resolve(ssmc_context *ctx, int32_t v, const ssmc_tensor *inputs, ssmc_resolved *r) {
      const ssmc_shape_variant *variant = &ssmc_variants[v];
      r->scratch_bytes = SSMC_SCRATCH_BYTES;
      for (int32_t s = 0; s < SSMC_MAX_SYMBOLS; s++) r->symbols[s] = -1;
      if (!variant->shapes) {
        for (int32_t i = 0; i < SSMC_NUM_INPUTS; i++) r->input_dims[i] = variant->input_dims[i];
        for (int32_t i = 0; i < SSMC_NUM_OUTPUTS; i++) r->output_dims[i] = variant->output_dims[i];
        return SSMC_OK;
      }
      int64_t *in = r->input_storage;
      for (int32_t i = 0; i < SSMC_NUM_INPUTS; i++) {
        const ssmc_tensor *t = &inputs[i];
        const ssmc_tensor_info *info = &ssmc_inputs[i];
        if (t->rank != info->rank || (t->rank > 0 && !t->dims))
          return ssmc_check_tensor(ctx, "input", i, t, info, variant->input_dims[i]);
        for (int32_t j = 0; j < info->rank; j++) {
          int32_t s = variant->input_symbols[i][j];
          if (s < 0) {
            in[j] = variant->input_dims[i][j];
            continue;
          }
          int64_t given = t->dims[j];
          if (given < 1)
            return ssmc_fail(ctx, SSMC_ERROR_SHAPE_MISMATCH, "input %d '%s': dim %d is %lld; the symbolic dim '%s' must be at least 1",
                             i, info->name, j, (long long)given, variant->symbol_names[s]);
          if (r->symbols[s] >= 0 && r->symbols[s] != given)
            return ssmc_fail(ctx, SSMC_ERROR_SHAPE_MISMATCH, "input %d '%s': dim %d is %lld, but '%s' is %lld in an earlier dim",
                             i, info->name, j, (long long)given, variant->symbol_names[s], (long long)r->symbols[s]);
          r->symbols[s] = in[j] = given;
        }
        r->input_dims[i] = in;
        in += info->rank;
      }
      variant->shapes(r->symbols, r->output_storage);
      if (r->output_storage[0] < 0)
        return ssmc_fail(ctx, SSMC_ERROR_SHAPE_MISMATCH, "the input sizes do not fit the model: %s",
                         variant->checks[-r->output_storage[0] - 1]);
      r->scratch_bytes = (size_t)r->output_storage[0];
      const int64_t *out = r->output_storage + 1;
      for (int32_t i = 0; i < SSMC_NUM_OUTPUTS; i++) {
        for (int32_t j = 0; j < ssmc_outputs[i].rank; j++)
          if (out[j] < 0)
            return ssmc_fail(ctx, SSMC_ERROR_SHAPE_MISMATCH, "output %d '%s' would have dim %d of %lld at these input sizes",
                             i, ssmc_outputs[i].name, j, (long long)out[j]);
        r->output_dims[i] = out;
        out += ssmc_outputs[i].rank;
      }
      return SSMC_OK;
    }

    /* Grows the context's scratch to `bytes` (it never shrinks). */
    static int32_t ssmc_reserve_scratch(ssmc_context *ctx, size_t bytes) {
      if (bytes <= ctx->scratch_bytes) return SSMC_OK;
      size_t rounded = (bytes + 63) / 64 * 64;
      void *grown = aligned_alloc(64, rounded);
      if (!grown) return ssmc_fail(ctx, SSMC_ERROR_OUT_OF_MEMORY, "cannot allocate %zu bytes of scratch for these input sizes", rounded);
      free(ctx->scratch);
      ctx->scratch = grown;
      ctx->scratch_bytes = rounded;
      return SSMC_OK;
    }
    """#
}
