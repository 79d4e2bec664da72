// Converting parsed JSON into template values, as Python's `json.loads` would give them:
// integer text becomes an int (a float if it does not fit 64 bits), other numbers floats,
// objects insertion-ordered dicts.

import ByteJSON

extension Value {
    public init(json: JSON) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .number(let n):
            if n.isInteger, let i = n.int {
                self = .int(i)
            } else {
                self = .float(n.double ?? .nan)
            }
        case .string(let s): self = .string(s)
        case .array(let items): self = .list(items.map(Value.init(json:)))
        case .object(let o):
            self = .dict(Dict(stringPairs: o.members.map { ($0.key, Value(json: $0.value)) }))
        }
    }
}
