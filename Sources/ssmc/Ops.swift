import ArgumentParser
import SSMCCodegen
import SSMCFrontend
import SSMCIR

struct Ops: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the ops ssmc compiles, one per line as DOMAIN OPTYPE.")

  func run() {
    // S4ND2D has no lowering of its own: the expand-s4nd pass rewrites it into ops that do.
    let expandedByPasses: Set<String> = [S4ND2DOperands.opName]
    let compiled = { (name: String) in Lowerings.supports(name) || expandedByPasses.contains(name) }
    var lines: [(opType: String, line: String)] = []
    for name in OpRegistry.all.keys where compiled(name) && OpRegistry.all[name]!.domain != "ai.ssmc.internal" {
      let schema = OpRegistry.all[name]!
      let domain = schema.domain.isEmpty ? "ai.onnx" : schema.domain
      let opType = name.hasPrefix("ssmc.") ? String(name.dropFirst(5)) : name
      lines.append((name, "\(domain) \(opType)"))
    }
    // Older ONNX names imported as an op above (Upsample as Resize, Scatter as ScatterElements).
    for (alias, target) in OpRegistry.onnxAliases where compiled(target) { lines.append((alias, "ai.onnx \(alias)")) }
    // The importer turns Constant nodes into the IR's constants, If into both branches and ssmc.Choose, and
    // Loop and Scan (with trip counts and lengths known at compile time) into one copy of the body per step,
    // and sequence ops (lengths and positions known at compile time) into lists of tensors.
    lines += [("Constant", "ai.onnx Constant"), ("If", "ai.onnx If"), ("Loop", "ai.onnx Loop"), ("Scan", "ai.onnx Scan")]
    lines += Importer.sequenceOpTypes.sorted().map { ($0, "ai.onnx \($0)") }
    for entry in lines.sorted(by: { $0.opType < $1.opType }) { print(entry.line) }
  }
}
