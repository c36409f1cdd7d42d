/// Generates `NAME.h`, the C interface of one compiled model.
///
/// The shared types sit behind one include guard, so headers of several models can be included in
/// one translation unit; each model's functions carry its name as a prefix.
public enum HeaderGenerator {
  /// The text of `NAME.h` for a library of one shape.
  public static func header(for signature: ModelSignature) -> String {
    // One signature always makes a valid library.
    header(for: try! LibrarySignature([signature]))
  }

  /// The text of `NAME.h` for `signature`.
  public static func header(for signature: LibrarySignature) -> String {
    let n = signature.name
    let guardName = "SSMC_MODEL_\(n.uppercased())_H"
    let tensors = { (role: String, list: [TensorSignature]) -> String in
      list.enumerated().map { i, t in
        " *   \(role) \(i): \(commentSafe(t.name)) \(elementTypeName(t.elementType))\(t.reportedDims)"
      }.joined(separator: "\n")
    }
    return """
      /* \(n).h: C interface of the model '\(n)' compiled by ssmc. Generated; do not edit.
       *
       * Inputs and outputs (ONNX element type codes; -1 marks a dim given at run time):
      \(tensors("input", signature.inputs))
      \(tensors("output", signature.outputs))
       *\(signature.hasRuntimeBatch ? "\n * The batch size is the inputs' batch dim (-1), the same for all of them; \(n)_output_shape gives each\n * output's dims for given inputs. The model runs sample by sample." : "")\(variantsComment(signature))
       *
       * Use: ctx = \(n)_create(); fill ssmc_tensor descriptors for every input and output (the caller
       * allocates and owns all tensor memory, dense row-major); \(n)_run(ctx, ...); \(n)_destroy(ctx).
       *
       * Threading: a context owns scratch memory and a pool of worker threads. Use one context from one
       * thread at a time; separate contexts may run concurrently. The info functions are thread-safe.
       * Errors: every call returns an SSMC_* status; after a failure \(n)_last_error(ctx) describes it
       * until the next call on that context. No function aborts on bad arguments or NULL pointers.
       * Generic names: every function is also exported without the model prefix as ssmc_* (e.g.
       * ssmc_run) for dlopen users, who resolve them with dlsym on the library's handle.
       */
      #ifndef \(guardName)
      #define \(guardName)

      #include <stdint.h>

      #ifdef __cplusplus
      extern "C" {
      #endif

      #ifndef SSMC_ABI_V1
      #define SSMC_ABI_V1
      /* Opaque per-run state: scratch memory and a thread pool. */
      typedef struct ssmc_context ssmc_context;

      /* A tensor passed to run: data is dense row-major; dims has rank entries (may be NULL for rank 0). */
      typedef struct ssmc_tensor {
        void *data;
        int32_t elem_type; /* ONNX TensorProto.DataType code, e.g. SSMC_FLOAT */
        int32_t rank;
        const int64_t *dims;
      } ssmc_tensor;

      /* Static description of a model input or output; owned by the library, valid while it is loaded. */
      typedef struct ssmc_tensor_info {
        const char *name;
        int32_t elem_type;
        int32_t rank;
        const int64_t *dims;
      } ssmc_tensor_info;

      enum {
        SSMC_OK = 0,
        SSMC_ERROR_INVALID_ARGUMENT = 1,
        SSMC_ERROR_SHAPE_MISMATCH = 2,
        SSMC_ERROR_OUT_OF_MEMORY = 3,
        SSMC_ERROR_INTERNAL = 4
      };

      /* ONNX element type codes used in elem_type. */
      enum {
      \(ModelSignature.elementTypes.map { "  \($0.constant) = \($0.code)" }.joined(separator: ",\n"))
      };

      const char *ssmc_name(void);
      int32_t ssmc_num_inputs(void);
      int32_t ssmc_num_outputs(void);
      const ssmc_tensor_info *ssmc_input_info(int32_t i);
      const ssmc_tensor_info *ssmc_output_info(int32_t i);
      ssmc_context *ssmc_create(void);
      void ssmc_destroy(ssmc_context *ctx);
      int32_t ssmc_set_num_threads(ssmc_context *ctx, int32_t n);
      int32_t ssmc_run(ssmc_context *ctx, const ssmc_tensor *inputs, int32_t num_inputs,
                       ssmc_tensor *outputs, int32_t num_outputs);
      const char *ssmc_last_error(const ssmc_context *ctx);
      #endif /* SSMC_ABI_V1 */

      #ifndef SSMC_ABI_OUTPUT_SHAPE
      #define SSMC_ABI_OUTPUT_SHAPE
      int32_t ssmc_output_shape(ssmc_context *ctx, const ssmc_tensor *inputs, int32_t num_inputs, int32_t index,
                                int64_t *dims);
      #endif

      #ifndef SSMC_ABI_SHAPE_VARIANTS
      #define SSMC_ABI_SHAPE_VARIANTS
      int32_t ssmc_num_shape_variants(void);
      int32_t ssmc_shape_variant_input_dims(int32_t variant, int32_t input, int64_t *dims);
      #endif

      \(ProfileGlue.sharedDeclarations)

      /* The model's name, "\(n)". */
      const char *\(n)_name(void);
      /* Number of inputs (\(signature.inputs.count)) and outputs (\(signature.outputs.count)). */
      int32_t \(n)_num_inputs(void);
      int32_t \(n)_num_outputs(void);
      /* Description of input/output i; NULL if i is out of range. A dim of -1 is given at run time. */
      const ssmc_tensor_info *\(n)_input_info(int32_t i);
      const ssmc_tensor_info *\(n)_output_info(int32_t i);
      /* A new context (threads start on first use); NULL if memory runs out. */
      ssmc_context *\(n)_create(void);
      /* Frees ctx and stops its threads; NULL is ignored. ctx must not be running. */
      void \(n)_destroy(ssmc_context *ctx);
      /* Threads used by run (the calling thread included); 0 = number of online CPUs. */
      int32_t \(n)_set_num_threads(ssmc_context *ctx, int32_t n);
      /* Checks the count, element type, rank and dims of every tensor against the model, then computes
       * the outputs into the caller's buffers. Returns SSMC_OK or an error status (see last_error). */
      int32_t \(n)_run(ssmc_context *ctx, const ssmc_tensor *inputs, int32_t num_inputs,
                       ssmc_tensor *outputs, int32_t num_outputs);
      /* The dims output `index` has for these inputs (its info's rank entries written to dims): the info's
       * dims with the -1 dims filled in. Checks the inputs' count, batch dims and shapes. */
      int32_t \(n)_output_shape(ssmc_context *ctx, const ssmc_tensor *inputs, int32_t num_inputs, int32_t index,
                                int64_t *dims);
      /* Number of input shapes the library was compiled for (one per set of --input-shape; 1 by default). */
      int32_t \(n)_num_shape_variants(void);
      /* The dims input `input` has in shape variant `variant` (its info's rank entries written to dims; -1 on
       * the batch dim). SSMC_ERROR_INVALID_ARGUMENT for an index out of range or NULL dims. */
      int32_t \(n)_shape_variant_input_dims(int32_t variant, int32_t input, int64_t *dims);
      /* Message of the last failed call on ctx, "" if none; valid until the next call on ctx. */
      const char *\(n)_last_error(const ssmc_context *ctx);
      \(ProfileGlue.declarations(n, nodes: signature.profiledNodes.count))

      #ifdef __cplusplus
      }
      #endif

      #endif /* \(guardName) */

      """
  }

  /// For a library of several shapes: the input shapes each one takes.
  static func variantsComment(_ library: LibrarySignature) -> String {
    guard library.hasShapeVariants else { return "" }
    let lines = library.variants.map { variant in
      " *   " + variant.inputs.map { t in
        "\(commentSafe(t.name)) [\(t.dims.enumerated().map { $0.offset == t.sampleAxis ? "?" : String($0.element) }.joined(separator: ", "))]"
      }.joined(separator: ", ")
    }
    return "\n * Compiled for \(library.variants.count) input shapes; run accepts these (any batch size on ?) and reports others:\n"
      + lines.joined(separator: "\n")
  }

  static func elementTypeName(_ code: Int32) -> String {
    ModelSignature.elementTypes.first { $0.code == code }?.name ?? "type\(code)"
  }

  /// A tensor name safe inside a C comment: printable ASCII, and no `*/`.
  static func commentSafe(_ s: String) -> String {
    var out = ""
    for scalar in s.unicodeScalars {
      let c: Character = scalar.isASCII && scalar.value >= 0x20 && scalar.value < 0x7f ? Character(scalar) : "?"
      if c == "/" && out.last == "*" { out += " " }
      out.append(c)
    }
    return out
  }
}
