import ArgumentParser
import SSMCCodegen
import SSMCIR

struct Ops: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the ops ssmc compiles, one per line as DOMAIN OPTYPE.")

  func run() {
    // S4ND2D has no lowering of its own: the expand-s4nd pass rewrites it into ops that do.
    let expandedByPasses: Set<String> = [S4ND2DOperands.opName]
    var lines: [String] = []
    for name in OpRegistry.all.keys.sorted()
    where (Lowerings.supports(name) || expandedByPasses.contains(name)) && OpRegistry.all[name]!.domain != "ai.ssmc.internal" {
      let schema = OpRegistry.all[name]!
      let domain = schema.domain.isEmpty ? "ai.onnx" : schema.domain
      let opType = name.hasPrefix("ssmc.") ? String(name.dropFirst(5)) : name
      lines.append("\(domain) \(opType)")
    }
    // Deprecated ops imported as another (Upsample as Resize).
    for (alias, target) in OpRegistry.onnxAliases where Lowerings.supports(target) { lines.append("ai.onnx \(alias)") }
    // The importer turns Constant nodes into the IR's constants; no op of the IR is left for them.
    lines.append("ai.onnx Constant")
    for line in lines.sorted() { print(line) }
  }
}
