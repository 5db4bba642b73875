/// The ranges of every registered buffer, for the one question the host
/// asks on each `create_buffer`: does some buffer's range contain these
/// bytes? Ranges of different buffers may overlap, so it is a treap ordered
/// by start, in which every node also knows the furthest end in its
/// subtree: the ranges starting at or before an offset form a prefix of the
/// order, and the furthest end among them is found on one path from the
/// root. Insert, remove and look-up cost O(log n) (priorities are random
/// from a seed the guest cannot know, so no order of registrations makes
/// the tree a list); a scan of 8192 buffers of 64 ranges cost 200 µs a
/// look-up.
struct RangeIndex {
    private struct Node {
        var start: UInt64
        var end: UInt64
        var buffer: UInt32
        var priority: UInt32
        var left: Int32 = -1
        var right: Int32 = -1
        /// The furthest `end` in this node's subtree.
        var furthest: UInt64
    }

    private var nodes: [Node] = []
    private var unused: [Int32] = []
    private var root: Int32 = -1
    private var random: UInt64

    init() {
        var seed: UInt64 = 0
        while seed == 0 { seed = UInt64.random(in: 1...UInt64.max) }
        random = seed
    }

    /// Ranges held.
    private(set) var count = 0

    /// Adds `range` of `buffer`. A buffer's own ranges never overlap, so
    /// (start, buffer) names one range.
    mutating func insert(_ range: MemoryRange, buffer: UInt32) {
        let node = Node(start: range.offset, end: range.offset + range.length, buffer: buffer, priority: nextPriority(),
                        furthest: range.offset + range.length)
        let at: Int32
        if let reused = unused.popLast() {
            at = reused
            nodes[Int(at)] = node
        } else {
            at = Int32(nodes.count)
            nodes.append(node)
        }
        root = insert(at, into: root)
        count += 1
    }

    /// Removes the range of `buffer` starting at `start`, if present.
    mutating func remove(start: UInt64, buffer: UInt32) {
        var removed = false
        root = remove(start: start, buffer: buffer, from: root, removed: &removed)
        if removed { count -= 1 }
    }

    mutating func removeAll() {
        nodes.removeAll()
        unused.removeAll()
        root = -1
        count = 0
    }

    /// A buffer with a range that contains all of `[offset, end)`, and the
    /// number of nodes looked at (for tests that check the cost).
    func find(offset: UInt64, end: UInt64) -> (buffer: UInt32?, visited: Int) {
        var visited = 0
        var n = root
        while n >= 0 {
            visited += 1
            let node = nodes[Int(n)]
            guard node.start <= offset else {
                n = node.left
                continue
            }
            // This node and its whole left subtree start at or before `offset`.
            if node.end >= end { return (node.buffer, visited) }
            if node.left >= 0 && nodes[Int(node.left)].furthest >= end {
                return (reaching(end, under: node.left, visited: &visited), visited)
            }
            n = node.right
        }
        return (nil, visited)
    }

    /// A buffer whose range under `n` (all starting early enough) ends at or after `end`.
    private func reaching(_ end: UInt64, under n: Int32, visited: inout Int) -> UInt32? {
        var n = n
        while n >= 0 {
            visited += 1
            let node = nodes[Int(n)]
            if node.end >= end { return node.buffer }
            if node.left >= 0 && nodes[Int(node.left)].furthest >= end { n = node.left } else { n = node.right }
        }
        return nil
    }

    // MARK: The treap

    private mutating func nextPriority() -> UInt32 {
        // xorshift64*, seeded at random: cheap, and unknown to the guest.
        random ^= random >> 12
        random ^= random << 25
        random ^= random >> 27
        return UInt32(truncatingIfNeeded: (random &* 0x2545_F491_4F6C_DD1D) >> 32)
    }

    private func precedes(_ a: Node, _ b: Node) -> Bool {
        a.start != b.start ? a.start < b.start : a.buffer < b.buffer
    }

    private mutating func update(_ n: Int32) {
        var f = nodes[Int(n)].end
        if nodes[Int(n)].left >= 0 { f = max(f, nodes[Int(nodes[Int(n)].left)].furthest) }
        if nodes[Int(n)].right >= 0 { f = max(f, nodes[Int(nodes[Int(n)].right)].furthest) }
        nodes[Int(n)].furthest = f
    }

    private mutating func rotateRight(_ n: Int32) -> Int32 {
        let l = nodes[Int(n)].left
        nodes[Int(n)].left = nodes[Int(l)].right
        nodes[Int(l)].right = n
        update(n)
        update(l)
        return l
    }

    private mutating func rotateLeft(_ n: Int32) -> Int32 {
        let r = nodes[Int(n)].right
        nodes[Int(n)].right = nodes[Int(r)].left
        nodes[Int(r)].left = n
        update(n)
        update(r)
        return r
    }

    private mutating func insert(_ new: Int32, into n: Int32) -> Int32 {
        guard n >= 0 else { return new }
        if precedes(nodes[Int(new)], nodes[Int(n)]) {
            nodes[Int(n)].left = insert(new, into: nodes[Int(n)].left)
            if nodes[Int(nodes[Int(n)].left)].priority > nodes[Int(n)].priority { return rotateRight(n) }
        } else {
            nodes[Int(n)].right = insert(new, into: nodes[Int(n)].right)
            if nodes[Int(nodes[Int(n)].right)].priority > nodes[Int(n)].priority { return rotateLeft(n) }
        }
        update(n)
        return n
    }

    private mutating func remove(start: UInt64, buffer: UInt32, from n: Int32, removed: inout Bool) -> Int32 {
        guard n >= 0 else { return n }
        let node = nodes[Int(n)]
        if node.start == start && node.buffer == buffer {
            removed = true
            return merge(node.left, node.right, freeing: n)
        }
        if start < node.start || (start == node.start && buffer < node.buffer) {
            nodes[Int(n)].left = remove(start: start, buffer: buffer, from: node.left, removed: &removed)
        } else {
            nodes[Int(n)].right = remove(start: start, buffer: buffer, from: node.right, removed: &removed)
        }
        update(n)
        return n
    }

    /// Joins two subtrees (every key of `a` before every key of `b`) in
    /// place of node `freed`, which goes to the unused list.
    private mutating func merge(_ a: Int32, _ b: Int32, freeing freed: Int32) -> Int32 {
        unused.append(freed)
        return join(a, b)
    }

    private mutating func join(_ a: Int32, _ b: Int32) -> Int32 {
        if a < 0 { return b }
        if b < 0 { return a }
        if nodes[Int(a)].priority > nodes[Int(b)].priority {
            nodes[Int(a)].right = join(nodes[Int(a)].right, b)
            update(a)
            return a
        }
        nodes[Int(b)].left = join(a, nodes[Int(b)].left)
        update(b)
        return b
    }
}
