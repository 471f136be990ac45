//! Model call stacks: a depot of interned frames, so an access records its whole stack as one id.

use rustc_hash::FxHashMap;

/// An interned call stack; [`StackDepot::EMPTY`] is the empty stack.
pub(crate) type StackId = u32;

/// Interned stacks as a tree of `(parent, frame)` nodes, after ThreadSanitizer's stack depot.
#[derive(Default)]
pub(crate) struct StackDepot {
    // invariant: nodes[0] is the root (the empty stack) and every parent index is smaller than its child's.
    nodes: Vec<(StackId, &'static str)>,
    // Fx, not SipHash: a lookup per frame push, on the hot path of every atomic operation.
    index: FxHashMap<(StackId, usize, usize), StackId>,
}

impl StackDepot {
    pub(crate) const EMPTY: StackId = 0;

    pub(crate) fn new() -> StackDepot {
        StackDepot { nodes: vec![(0, "")], index: FxHashMap::default() }
    }

    /// The stack `parent` with `frame` called from its innermost frame.
    pub(crate) fn push(&mut self, parent: StackId, frame: &'static str) -> StackId {
        let key = (parent, frame.as_ptr() as usize, frame.len());
        if let Some(&id) = self.index.get(&key) {
            return id;
        }
        let id = self.nodes.len() as StackId;
        self.nodes.push((parent, frame));
        self.index.insert(key, id);
        id
    }

    /// The frames of `id`, innermost first (the order Go's race detector prints).
    pub(crate) fn frames(&self, mut id: StackId) -> Vec<String> {
        let mut out = Vec::new();
        while id != Self::EMPTY {
            let (parent, name) = self.nodes[id as usize];
            out.push(name.to_string());
            id = parent;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::StackDepot;

    #[test]
    fn stacks_are_interned_and_render_innermost_first() {
        let mut d = StackDepot::new();
        let a = d.push(StackDepot::EMPTY, "outer");
        let b = d.push(a, "inner");
        assert_eq!(d.push(a, "inner"), b);
        assert_eq!(d.frames(b), vec!["inner", "outer"]);
        assert!(d.frames(StackDepot::EMPTY).is_empty());
    }
}
