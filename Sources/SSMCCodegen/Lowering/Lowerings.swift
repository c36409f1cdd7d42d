/// The lowering of every op ssmc compiles, by IR op name.
public enum Lowerings {
  public static func supports(_ op: String) -> Bool { false }
}
