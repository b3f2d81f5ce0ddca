//! Receive room that the kernel fills before anything reads it: the heads
//! of a batched read's slots (see `core::recv`), laid out back to back in
//! the buffer that becomes the chunk JS gets. It is left uninitialized (a
//! zeroed 64 KiB per read cost more than the copy it saves), so the only
//! bytes ever read are those the receive syscall reported writing, which
//! only this module and `recv_batch` record.

/// `slots` heads of `head` bytes each, in the spare capacity of `buf`.
pub(crate) struct Heads {
    /// Always empty (length 0): the heads are its spare capacity.
    buf: Vec<u8>,
    head: usize,
    slots: usize,
    /// Per slot, how many bytes of its head the kernel wrote.
    written: Vec<usize>,
}

impl Heads {
    pub(crate) fn new() -> Self {
        Self {
            buf: Vec::new(),
            head: 0,
            slots: 0,
            written: Vec::new(),
        }
    }

    /// Room for `slots` heads of `head` bytes (none when `head` is 0),
    /// forgetting what the last read wrote. A buffer that was not handed
    /// on is reused.
    pub(crate) fn prepare(&mut self, head: usize, slots: usize) {
        let size = head * slots;
        if self.buf.capacity() < size {
            self.buf = Vec::with_capacity(size);
        }
        self.head = head;
        self.slots = if head == 0 { 0 } else { slots };
        self.written.clear();
        self.written.resize(self.slots, 0);
    }

    /// The size of each head (0: the read has none).
    pub(crate) fn head(&self) -> usize {
        self.head
    }

    /// The size of slot `i`'s head (0 past the prepared slots, whose
    /// datagrams the receive call put whole in their tails).
    pub(crate) fn head_of(&self, i: usize) -> usize {
        if i < self.slots {
            self.head
        } else {
            0
        }
    }

    /// Whether slot `i`'s head holds the whole of its `len`-byte datagram.
    pub(crate) fn whole(&self, i: usize, len: usize) -> bool {
        self.written.get(i) == Some(&len)
    }

    /// Where the prepared heads start (slot `i`'s at `i * head()`) and how
    /// many there are, for the receive call; `None` when there are none.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // recvmmsg only
    pub(super) fn slots_base(&mut self) -> Option<(*mut u8, usize)> {
        if self.slots == 0 || self.buf.capacity() < self.slots * self.head {
            return None;
        }
        Some((
            self.buf.spare_capacity_mut().as_mut_ptr().cast(),
            self.slots,
        ))
    }

    /// Records that the kernel wrote `len` bytes into slot `i` (its head
    /// takes the first `head` of them).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(super) fn set_written(&mut self, i: usize, len: usize) {
        if let Some(w) = self.written.get_mut(i) {
            *w = len.min(self.head);
        }
    }

    /// The bytes the kernel wrote into slot `i`'s head.
    pub(crate) fn bytes(&self, i: usize) -> &[u8] {
        let Some(&len) = self.written.get(i) else {
            return &[];
        };
        let start = i * self.head;
        // SAFETY: slot `i` lies within the capacity (`prepare` sized it,
        // `i < slots`), and its first `len` bytes were written by the
        // receive call, which reported them (`set_written`); `buf` is not
        // touched while the slice borrows `self`.
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr().add(start), len) }
    }

    /// Takes back a buffer that `take_packed` handed out and nobody kept
    /// (its bytes were copied to JS), for the next `prepare`: reads that
    /// come one after another then reuse one allocation, where each used to
    /// allocate (and fault in) a fresh one.
    pub(crate) fn give_back(&mut self, mut buf: Vec<u8>) {
        if self.buf.capacity() < buf.capacity() {
            buf.clear();
            self.buf = buf;
        }
    }

    /// The heads of the slots `keep` selects, moved back to back, as a
    /// buffer of their own; the next `prepare` allocates anew, unless a
    /// buffer was given back meanwhile (`give_back`).
    pub(crate) fn take_packed(&mut self, keep: impl Fn(usize) -> bool) -> Vec<u8> {
        let base = self.buf.as_mut_ptr();
        let mut filled = 0;
        for (i, &len) in self.written.iter().enumerate() {
            if !keep(i) {
                continue;
            }
            let start = i * self.head;
            if start != filled {
                // SAFETY: both ranges lie within the capacity; the source
                // holds `len` bytes the kernel wrote; `filled <= start`
                // (earlier heads hold at most `head` bytes each), and
                // `ptr::copy` allows the ranges to overlap.
                unsafe { std::ptr::copy(base.add(start), base.add(filled), len) };
            }
            filled += len;
        }
        self.written.clear();
        self.slots = 0;
        let mut out = std::mem::take(&mut self.buf);
        // SAFETY: the first `filled` bytes are the kept heads, moved there
        // above, all written by the kernel; `filled` is within the capacity.
        unsafe { out.set_len(filled) };
        out
    }
}
