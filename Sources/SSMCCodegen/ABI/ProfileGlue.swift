/// The C of the per-node profile: `NAME_profile_num_nodes`, `NAME_profile`, `NAME_profile_reset` (and
/// their generic `ssmc_*` names). Every library has them; only one compiled with `ssmc compile --profile`
/// reports nodes, the others report none.
enum ProfileGlue {
  /// Header declarations shared by every model (inside their own include guard).
  static let sharedDeclarations = """
    #ifndef SSMC_ABI_PROFILE_V1
    #define SSMC_ABI_PROFILE_V1
    /* Time spent in one node of the model over the runs since the context was created or reset. */
    typedef struct ssmc_node_profile {
      const char *name;   /* the node's name in the model, or node.N */
      const char *op;     /* the compiler's op, e.g. Conv, MatMul, ssmc.SelectiveScan */
      const char *shapes; /* operand and result shapes, e.g. "1x96x56x56, 96x1x3x3 -> 1x96x56x56" */
      int64_t calls;      /* number of times the node ran */
      int64_t nanoseconds; /* total wall time of those calls (monotonic clock) */
      int64_t cpu_nanoseconds; /* total CPU time of the calling thread in those calls (worker threads not
                                  included; unlike wall time, not inflated by other processes) */
    } ssmc_node_profile;

    int32_t ssmc_profile_num_nodes(void);
    int32_t ssmc_profile(ssmc_context *ctx, ssmc_node_profile *nodes, int32_t capacity);
    int32_t ssmc_profile_reset(ssmc_context *ctx);
    #endif /* SSMC_ABI_PROFILE_V1 */
    """

  /// Header declarations of model `n`'s profile functions.
  static func declarations(_ n: String, nodes: Int) -> String {
    """
    /* Profiling (libraries compiled with `ssmc compile --profile`; others report no nodes).
     * Number of nodes the profile reports, in the order they run (\(nodes) in this library). */
    int32_t \(n)_profile_num_nodes(void);
    /* Copies the per-node figures of ctx into nodes[0 .. min(capacity, num_nodes)). */
    int32_t \(n)_profile(ssmc_context *ctx, ssmc_node_profile *nodes, int32_t capacity);
    /* Sets every node's time and call count on ctx back to zero. */
    int32_t \(n)_profile_reset(ssmc_context *ctx);
    """
  }

  /// The glue's definitions of the profile functions and of the clock the kernel calls.
  static func definitions(for library: LibrarySignature) -> String {
    let n = library.name
    let nodes = library.profiledNodes
    let entries = nodes.map { "  {\(cStringLiteral($0.name)), \(cStringLiteral($0.op)), \(cStringLiteral($0.shapes)), 0, 0, 0}," }
    return """
      #define SSMC_PROFILE_NODES \(nodes.count)
      #define SSMC_PROFILE_COUNTERS \(ModelCompiler.profileCounters) /* per node: wall ns, CPU ns, calls */
      static const ssmc_node_profile ssmc_profile_nodes[] = {
      \(entries.isEmpty ? "  {\"\", \"\", \"\", 0, 0, 0}," : entries.joined(separator: "\n"))
      };

      __attribute__((visibility("hidden")))
      int64_t \(ModelCompiler.profileClockSymbol)(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
      }
      __attribute__((visibility("hidden")))
      int64_t \(ModelCompiler.profileCPUClockSymbol)(void) {
        struct timespec t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
      }

      int32_t \(n)_profile_num_nodes(void) { return SSMC_PROFILE_NODES; }

      int32_t \(n)_profile(ssmc_context *ctx, ssmc_node_profile *nodes, int32_t capacity) {
        if (!ctx || ctx->model != &ssmc_model_tag) return SSMC_ERROR_INVALID_ARGUMENT;
        ctx->error[0] = 0;
        if (capacity < 0 || (capacity > 0 && !nodes))
          return ssmc_fail(ctx, SSMC_ERROR_INVALID_ARGUMENT, "profile: capacity %d with %s nodes", capacity,
                           nodes ? "given" : "NULL");
        for (int32_t i = 0; i < capacity && i < SSMC_PROFILE_NODES; i++) {
          nodes[i] = ssmc_profile_nodes[i];
          nodes[i].nanoseconds = ctx->profile ? ctx->profile[SSMC_PROFILE_COUNTERS * i] : 0;
          nodes[i].cpu_nanoseconds = ctx->profile ? ctx->profile[SSMC_PROFILE_COUNTERS * i + 1] : 0;
          nodes[i].calls = ctx->profile ? ctx->profile[SSMC_PROFILE_COUNTERS * i + 2] : 0;
        }
        return SSMC_OK;
      }

      int32_t \(n)_profile_reset(ssmc_context *ctx) {
        if (!ctx || ctx->model != &ssmc_model_tag) return SSMC_ERROR_INVALID_ARGUMENT;
        ctx->error[0] = 0;
        if (ctx->profile) memset(ctx->profile, 0, sizeof(int64_t) * SSMC_PROFILE_COUNTERS * SSMC_PROFILE_NODES);
        return SSMC_OK;
      }

      int32_t ssmc_profile_num_nodes(void) { return \(n)_profile_num_nodes(); }
      int32_t ssmc_profile(ssmc_context *ctx, ssmc_node_profile *nodes, int32_t capacity) {
        return \(n)_profile(ctx, nodes, capacity);
      }
      int32_t ssmc_profile_reset(ssmc_context *ctx) { return \(n)_profile_reset(ctx); }

      """
  }
}
