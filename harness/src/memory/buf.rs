//! `CheckedBuf`: a byte buffer with plain and atomic accesses of 1, 2, 4 and 8 bytes at any offset
//! (a row table segment's raw data).

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use super::{check, spec, stop_on_race, Name};
use crate::detector::Shadow;
use crate::report::AccessKind;
use crate::runtime;
use crate::runtime::backend::Token;
use crate::runtime::clock::AtomicOp;
use crate::runtime::clock::VectorClock;

/// A checked byte buffer. Clones share the bytes, like two Go slices of one array.
///
/// Values are little-endian. Plain accesses are checked but are not scheduling points; atomic
/// accesses are scheduling points and synchronize per address, as Go's `sync/atomic` does
/// (sequentially consistent: a load acquires what the last store at that address released).
#[derive(Clone)]
pub struct CheckedBuf {
    inner: Arc<Inner>,
}

struct Inner {
    /// Under loom, the scheduling token of each 8-byte word, for atomics: atomics on one word are
    /// dependent, on different words independent (the used flags of two rows do not conflict).
    /// Made with the buffer: loom wants an atomic's creation to happen before its every access.
    /// Under shuttle and std, where a token is only a scheduling point, one token.
    tokens: Vec<Token>,
    state: Mutex<State>,
}

struct State {
    data: Vec<u8>,
    shadow: Shadow,
    /// Sync clocks of the addresses atomic operations used, by offset (hashed without
    /// `RandomState`, whose keys cost a thread-local read per buffer).
    sync: FxHashMap<usize, VectorClock>,
}

impl fmt::Debug for CheckedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.lock();
        write!(f, "CheckedBuf({}, {} bytes)", st.shadow.label(), st.data.len())
    }
}

macro_rules! plain_ops {
    ($($read:ident $write:ident $t:ty;)*) => {$(
        #[doc = concat!("Plain read of a `", stringify!($t), "` at `offset`.")]
        #[track_caller]
        pub fn $read(&self, offset: usize) -> $t {
            self.access(offset, size_of::<$t>(), AccessKind::Read, |d| <$t>::decode(d))
        }

        #[doc = concat!("Plain write of a `", stringify!($t), "` at `offset`.")]
        #[track_caller]
        pub fn $write(&self, offset: usize, value: $t) {
            self.access(offset, size_of::<$t>(), AccessKind::Write, |d| value.encode(d));
        }
    )*};
}

macro_rules! atomic_ops {
    ($($t:ty: $load:ident $lname:literal $lint:literal, $store:ident $sname:literal $sint:literal, $add:ident $aname:literal $aint:literal,
        $swap:ident $wname:literal $wint:literal, $cas:ident $cname:literal $cint:literal;)*) => {$(
        #[doc = concat!("Atomic load at `offset` (Go's `", $lname, "`).")]
        #[track_caller]
        pub fn $load(&self, offset: usize) -> $t {
            self.atomic::<$t, _>(offset, &[$lname, $lint], AtomicOp::Load, |v| (v, None))
        }

        #[doc = concat!("Atomic store at `offset` (Go's `", $sname, "`).")]
        #[track_caller]
        pub fn $store(&self, offset: usize, value: $t) {
            self.atomic::<$t, _>(offset, &[$sname, $sint], AtomicOp::Store, |_| ((), Some(value)))
        }

        #[doc = concat!("Atomic add at `offset`, returning the new value (Go's `", $aname, "`).")]
        #[track_caller]
        pub fn $add(&self, offset: usize, delta: $t) -> $t {
            self.atomic::<$t, _>(offset, &[$aname, $aint], AtomicOp::Rmw, |v| (v.wrapping_add(delta), Some(v.wrapping_add(delta))))
        }

        #[doc = concat!("Atomic swap at `offset`, returning the old value (Go's `", $wname, "`).")]
        #[track_caller]
        pub fn $swap(&self, offset: usize, new: $t) -> $t {
            self.atomic::<$t, _>(offset, &[$wname, $wint], AtomicOp::Rmw, |v| (v, Some(new)))
        }

        #[doc = concat!("Atomic compare-and-swap at `offset` (Go's `", $cname, "`); a failed one is a load.")]
        #[track_caller]
        pub fn $cas(&self, offset: usize, old: $t, new: $t) -> bool {
            self.atomic::<$t, _>(offset, &[$cname, $cint], AtomicOp::Rmw, |v| if v == old { (true, Some(new)) } else { (false, None) })
        }
    )*};
}

/// The integer widths `CheckedBuf` reads and writes.
trait Word: Copy + Sized {
    fn decode(b: &[u8]) -> Self;
    fn encode(self, b: &mut [u8]);
}

macro_rules! word {
    ($($t:ty)*) => {$(
        impl Word for $t {
            fn decode(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().expect("width"))
            }
            fn encode(self, b: &mut [u8]) {
                b.copy_from_slice(&self.to_le_bytes())
            }
        }
    )*};
}
word!(u8 u16 u32 u64);

impl CheckedBuf {
    /// A zeroed buffer of `len` bytes, named `label` in reports.
    pub fn new(label: impl Into<Name>, len: usize) -> CheckedBuf {
        let exec = runtime::current();
        let base = exec.alloc_addr(len);
        let words = exec.backend.buffer_tokens(len);
        CheckedBuf {
            inner: Arc::new(Inner {
                tokens: (0..words).map(|_| Token::unrecorded(exec.backend)).collect(),
                state: Mutex::new(State {
                    data: vec![0; len],
                    shadow: Shadow::new(label, base, len),
                    sync: FxHashMap::default(),
                }),
            }),
        }
    }

    /// A buffer holding `bytes`, named `label` in reports. Creating it is not an access: the bytes
    /// are published the way the buffer itself is (say, through a channel or a `go` statement).
    pub fn from_bytes(label: impl Into<Name>, bytes: &[u8]) -> CheckedBuf {
        let buf = CheckedBuf::new(label, bytes.len());
        buf.inner.state.lock().data.copy_from_slice(bytes);
        buf
    }

    /// The name reports give the buffer.
    pub fn label(&self) -> String {
        self.inner.state.lock().shadow.label().to_string()
    }

    /// The buffer's length in bytes.
    pub fn len(&self) -> usize {
        self.inner.state.lock().data.len()
    }

    /// Whether the buffer has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The address of byte `offset`, as reports print it.
    pub fn addr(&self, offset: usize) -> u64 {
        self.inner.state.lock().shadow.base() + offset as u64
    }

    /// Names bytes `start..start+len` (say, `row 3`) for race reports. Not an access.
    pub fn label_region(&self, start: usize, len: usize, name: impl Into<String>) {
        self.inner.state.lock().shadow.label_region(start, len, name.into());
    }

    /// Names the rows starting at byte offsets `starts` (ascending; the last row ends with the
    /// buffer) `row 0`, `row 1`, … for race reports, formatting a name only when a report needs
    /// it. Not an access.
    pub fn label_rows(&self, starts: &[usize]) {
        self.inner.state.lock().shadow.label_rows(starts);
    }

    plain_ops! {
        read_u8 write_u8 u8;
        read_u16 write_u16 u16;
        read_u32 write_u32 u32;
        read_u64 write_u64 u64;
    }

    atomic_ops! {
        u32: atomic_load_u32 "sync/atomic.LoadUint32" "sync/atomic.LoadInt32", atomic_store_u32 "sync/atomic.StoreUint32" "sync/atomic.StoreInt32",
            atomic_add_u32 "sync/atomic.AddUint32" "sync/atomic.AddInt32", atomic_swap_u32 "sync/atomic.SwapUint32" "sync/atomic.SwapInt32",
            atomic_cas_u32 "sync/atomic.CompareAndSwapUint32" "sync/atomic.CompareAndSwapInt32";
        u64: atomic_load_u64 "sync/atomic.LoadUint64" "sync/atomic.LoadInt64", atomic_store_u64 "sync/atomic.StoreUint64" "sync/atomic.StoreInt64",
            atomic_add_u64 "sync/atomic.AddUint64" "sync/atomic.AddInt64", atomic_swap_u64 "sync/atomic.SwapUint64" "sync/atomic.SwapInt64",
            atomic_cas_u64 "sync/atomic.CompareAndSwapUint64" "sync/atomic.CompareAndSwapInt64";
    }

    /// Plain read of `len` bytes at `offset` (a range access, as Go's `racereadrange`).
    #[track_caller]
    pub fn read_bytes(&self, offset: usize, len: usize) -> Vec<u8> {
        self.access(offset, len, AccessKind::Read, |d| d.to_vec())
    }

    /// Plain write of `bytes` at `offset`.
    #[track_caller]
    pub fn write_bytes(&self, offset: usize, bytes: &[u8]) {
        self.access(offset, bytes.len(), AccessKind::Write, |d| d.copy_from_slice(bytes));
    }

    #[track_caller]
    fn access<R>(&self, offset: usize, size: usize, kind: AccessKind, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let exec = runtime::current();
        let location = Location::caller();
        let mut guard = self.inner.state.lock();
        let len = guard.data.len();
        if offset + size > len {
            let label = guard.shadow.label().clone();
            drop(guard);
            panic!("index out of range: access [{offset}, {}) of {label} ({len} bytes)", offset + size);
        }
        let st = &mut *guard;
        let raced = check(&exec, &mut st.shadow, spec(offset, size, kind, false, &[], location), |_, _| {});
        let r = f(&mut st.data[offset..offset + size]);
        drop(guard);
        if raced {
            stop_on_race(&exec);
        }
        r
    }

    /// An atomic operation on a `W` at `offset`: `op` maps the current value to a result and,
    /// for a store or a read-modify-write, the new value. Synchronizes as TSan does for Go's
    /// seq-cst atomics: a load acquires; a store overwrites the address's sync clock with the
    /// goroutine's; a read-modify-write acquires and merges.
    #[track_caller]
    fn atomic<W: Word, R>(
        &self,
        offset: usize,
        frames: &'static [&'static str],
        kind: AtomicOp,
        op: impl FnOnce(W) -> (R, Option<W>),
    ) -> R {
        let exec = runtime::current();
        let location = Location::caller();
        let size = size_of::<W>();
        let words = if self.inner.tokens.len() == 1 { 0..1 } else { offset / 8..(offset + size).div_ceil(8) };
        let len = self.len();
        if offset + size > len {
            panic!("index out of range: atomic access [{offset}, {}) of {} ({len} bytes)", offset + size, self.label());
        }
        // A scheduling point, and a DPOR dependency with every other atomic access of the word (an
        // aligned atomic lies in one word).
        let name = frames.first().copied().unwrap_or("sync/atomic");
        let word = self.inner.state.lock().shadow.word(offset);
        for token in &self.inner.tokens[words] {
            token.touch_word(name, word, kind != AtomicOp::Load);
        }
        let mut guard = self.inner.state.lock();
        let st = &mut *guard;
        let (r, new) = op(W::decode(&st.data[offset..offset + size]));
        // TSan records every operation but a load as a write, a failed CAS included.
        let access = if kind == AtomicOp::Load { AccessKind::Read } else { AccessKind::Write };
        let sync = st.sync.entry(offset).or_default();
        let raced = check(&exec, &mut st.shadow, spec(offset, size, access, true, frames, location), |es, g| {
            es.atomic_sync(g, sync, kind, new.is_some())
        });
        if let Some(v) = new {
            v.encode(&mut st.data[offset..offset + size]);
        }
        drop(guard);
        if raced {
            stop_on_race(&exec);
        }
        r
    }
}
