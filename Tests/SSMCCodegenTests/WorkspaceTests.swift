import SSMCIR
import Testing

@testable import SSMCCodegen

/// Lowerings that need temporary buffers take them from the node's workspace in the memory plan: the
/// emitted module calls no allocator, and the scratch size covers the workspaces.
struct WorkspaceTests {
  static func emit(_ text: String) throws -> (module: LLVMModule, signature: ModelSignature) {
    let graph = try Parser.parseGraph(text)
    let compiler = ModelCompiler(graph: graph, name: "m", vectorLanes: 16)
    try compiler.check()
    let module = LLVMModule(name: "m")
    let signature = try compiler.emit(into: module)
    try module.verify()
    return (module, signature)
  }

  static func expectNoAllocator(_ ir: String) {
    for symbol in ["@aligned_alloc", "@malloc", "@calloc", "@free", "@posix_memalign"] {
      #expect(!ir.contains(symbol), "the module references \(symbol)")
    }
  }

  @Test func runtimeMatMulPacksBIntoTheWorkspace() throws {
    // B is a graph input, so the packed kernel packs it at run time: 2 panels x 64 x 32 floats.
    let (module, signature) = try Self.emit("""
      graph @mm(%a: f32[48,64], %b: f32[64,40]) {
        %c = MatMul(%a, %b) : f32[48,40]
        return %c
      }
      """)
    let ir = module.irText
    Self.expectNoAllocator(ir)
    #expect(ir.contains("ptr noalias nocapture %workspace"))
    // The product is the caller's output buffer: scratch holds exactly the packed B.
    #expect(signature.scratchBytes == 2 * 64 * 32 * 4)
  }

  @Test func depthwiseConvPadsIntoTheWorkspaceBesideItsValues() throws {
    let (module, signature) = try Self.emit("""
      graph @dw(%x: f32[1,8,10,10], %w: f32[8,1,3,3]) {
        %r = Relu(%x) : f32[1,8,10,10]
        %y = Conv(%r, %w) {group = 8, pads = [1, 1, 1, 1]} : f32[1,8,10,10]
        %z = Neg(%y) : f32[1,8,10,10]
        return %z
      }
      """)
    Self.expectNoAllocator(module.irText)
    // r and y (3200 bytes each) are live during the Conv, and its workspace holds 8 padded 12 x 12 planes plus
    // a vector block of slack.
    let padded = MemoryPlan.round((8 * 144 + 4 * 16) * 4)
    #expect(signature.scratchBytes == 2 * MemoryPlan.round(3200) + padded)
  }

  @Test func nodesWithoutWorkspaceNeedNoScratch() throws {
    let (module, signature) = try Self.emit("""
      graph @add(%x: f32[4], %y: f32[4]) {
        %s = Add(%x, %y) : f32[4]
        return %s
      }
      """)
    Self.expectNoAllocator(module.irText)
    #expect(signature.scratchBytes == 0)
  }
}
