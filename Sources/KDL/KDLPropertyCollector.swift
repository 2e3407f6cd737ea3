/// Collects a node's properties with KDL's duplicate rule: the rightmost occurrence of a key
/// wins, kept at the position where the key first appeared.
///
/// A linear search is fastest for the handful of properties real nodes have, but a hostile
/// node with thousands of properties would make that quadratic, so past a small count the
/// collector switches to a dictionary index and stays linear.
struct KDLPropertyCollector {
    private(set) var properties: [KDLProperty] = []
    private var index: [String: Int]?
    private static let linearLimit = 8

    mutating func add(_ property: KDLProperty) {
        if let index {
            if let i = index[property.name] {
                properties[i].value = property.value
                properties[i].location = property.location
            } else {
                self.index![property.name] = properties.count
                properties.append(property)
            }
            return
        }
        if let i = properties.firstIndex(where: { $0.name == property.name }) {
            properties[i].value = property.value
            properties[i].location = property.location
            return
        }
        properties.append(property)
        if properties.count > Self.linearLimit {
            var built: [String: Int] = [:]
            for (i, p) in properties.enumerated() { built[p.name] = i }
            index = built
        }
    }
}
