//! When a socket's datagrams are read on a timer (a stream) rather than
//! on readiness, and how long its ticks are: the policy, as plain
//! functions of what the reads saw, so that it is tested without a loop.
//! `drivers::js_loop` watches the socket, keeps the counts and arms the
//! timer.
//!
//! A stream: when datagrams keep arriving one or two per wake-up (a sender
//! slower than us, such as a node:dgram peer: one syscall per datagram),
//! each wake-up costs more than the datagrams it brings. If `STREAM_STREAK`
//! wake-ups in a row (at first; see below) came less than `STREAM_GAP`
//! apart on average and brought at least `STREAM_KEEP` datagrams per
//! longest tick (4,000 a second; averaged, because a sender on a 1 ms timer
//! wakes a fast reader a few times per burst, then not for most of a
//! millisecond), the thread sent nothing meanwhile, on this socket or any
//! other (so it is not answering them: a request/response exchange, whose
//! replies may leave by another socket, as a client's next request does,
//! never waits here; measured before that: a client pinging a server socket
//! of the same thread saw about one datagram in six delayed by 0.5-1 ms),
//! and the receive buffer holds `STREAM_MIN_CAPACITY` datagrams of their
//! size, the poller stops watching and reads on a timer instead: one
//! wake-up per tick carries what arrived in it. The tick starts at
//! `TICK_START` and adapts so that what accumulates in a tick fills at most
//! half the socket's receive buffer (nothing is dropped that polling would
//! have kept) and at least an eighth of it, between `TICK_MIN` and
//! `TICK_MAX` (microseconds: a timerfd, which is why streams are
//! Linux-only, `drivers::js_loop` says more). The poller watches again at
//! the first tick after the thread sent anything, when a tick's datagrams
//! are too large for the buffer to hold enough of them, or when two longest
//! ticks (held ones too) bring fewer than `STREAM_LEAVE` datagrams together
//! (below the rate that starts a stream: hysteresis). A stream that ends so
//! within `STREAM_SHORT` ticks may have been an exchange answered by other
//! means (the sender waits for each datagram to be handled): the next
//! stream then needs twice the wake-ups. A timer's wake-up costs more than
//! a datagram's (on the 2-core VM we measure on, about three times one that
//! closely follows another): a stream pays only where it replaces several
//! wake-ups per tick. The price is a tick of added delay on one-way streams
//! of more than a few thousand datagrams a second (and a tail of several ms
//! for 1-4 % of them on our VM, whose timer interrupts on an idle vCPU come
//! late: bench/stress/stream-latency.js, docs/sessions.md session 33).

use std::time::Duration;

/// Wake-ups closer together than this on average count toward a stream.
pub(crate) const STREAM_GAP: Duration = Duration::from_micros(250);
/// How many wake-ups make a window in which a stream is recognised, at
/// first (the poller raises it after streams that did not pay).
pub(crate) const STREAM_STREAK: u32 = 16;
/// A stream that ends thin within this many ticks did not pay: the sender
/// may be waiting for what we emit (a request/response exchange answered
/// by other means than a send of this thread, e.g. IPC), and each of its
/// ticks delayed one datagram. The next stream then needs twice the
/// wake-ups, up to `STREAK_MAX`; a stream that lasts longer resets it.
pub(crate) const STREAM_SHORT: u32 = 6;
pub(crate) const STREAK_MAX: u32 = 4096;
/// A stream's first tick, and the bounds of its adaptation.
pub(crate) const TICK_START: u64 = 250;
pub(crate) const TICK_MIN: u64 = 50;
pub(crate) const TICK_MAX: u64 = 1000;
/// Datagrams per longest tick that start a stream.
pub(crate) const STREAM_KEEP: usize = 4;
/// Two longest ticks in a row that bring fewer datagrams together end it.
pub(crate) const STREAM_LEAVE: usize = 6;
/// The kernel's accounting of one datagram beyond its payload (roughly an
/// skb's truesize overhead on Linux), to estimate a tick's buffer fill.
pub(crate) const DATAGRAM_OVERHEAD: usize = 768;
/// A stream needs a receive buffer that holds at least this many of its
/// datagrams: with fewer (8 KiB datagrams in Linux's default 208 KiB hold
/// about 23), any delay of a tick overflows it, and waking per datagram,
/// as libuv does, loses less (measured: 8 KiB from a node:dgram sender lost
/// 30–50 % streamed, under 10 % polled).
pub(crate) const STREAM_MIN_CAPACITY: usize = 64;

/// Whether `wakeups` wake-ups that took `span` and brought
/// `datagrams` are a stream: wake-ups `STREAM_GAP` apart on average (bursts
/// and pauses average out), and datagrams enough that a longest tick
/// would bring `STREAM_KEEP` of them.
pub(crate) fn is_stream(span: Duration, wakeups: u32, datagrams: usize) -> bool {
    let micros = span.as_micros();
    micros < STREAM_GAP.as_micros() * u128::from(wakeups)
        && datagrams as u128 * TICK_MAX as u128 >= STREAM_KEEP as u128 * micros.max(1)
}

/// Whether a window of `streak` wake-ups that has lasted `span` can no
/// longer average `STREAM_GAP` (see `is_stream`), whatever comes next.
pub(crate) fn window_lost(span: Duration, streak: u32) -> bool {
    span.as_micros() >= STREAM_GAP.as_micros() * u128::from(streak)
}

/// Whether a receive buffer of `rcvbuf` bytes holds `STREAM_MIN_CAPACITY`
/// datagrams like the `count` that brought `bytes`.
pub(crate) fn holds_a_stream(rcvbuf: usize, count: usize, bytes: usize) -> bool {
    let per_datagram = bytes / count.max(1) + DATAGRAM_OVERHEAD;
    rcvbuf / per_datagram >= STREAM_MIN_CAPACITY
}

/// A stream's state between its ticks: plain data, so that `judge_tick`
/// is tested without a loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StreamTicks {
    /// The next tick's length (µs).
    pub(crate) tick_us: u64,
    /// Ticks so far.
    pub(crate) ticks: u32,
    /// What the previous longest tick brought (`STREAM_LEAVE`).
    pub(crate) last_long: Option<usize>,
}

impl StreamTicks {
    pub(crate) const START: Self = Self {
        tick_us: TICK_START,
        ticks: 0,
        last_long: None,
    };
}

/// What a stream's tick read (`count` datagrams, `bytes`; `more` left in
/// the kernel than a tick reads; `held`: JS holds part of the batch for
/// its next turn) and what it found (the thread `answered`, the consumer
/// is `slow`, the receive buffer's size).
pub(crate) struct TickSeen {
    pub(crate) count: usize,
    pub(crate) bytes: usize,
    pub(crate) more: bool,
    pub(crate) held: bool,
    pub(crate) answered: bool,
    pub(crate) slow: bool,
    pub(crate) rcvbuf: usize,
}

/// What the stream does after a tick.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterTick {
    /// Tick again in `StreamTicks::tick_us`.
    Again,
    /// The same, once JS has emitted the batch it holds.
    Hold,
    /// More is waiting than a tick reads: the runtime reads ahead.
    ReadAhead,
    /// Watch for readiness again; `back_off`: the stream ended thin within
    /// `STREAM_SHORT` ticks (the next one needs twice the wake-ups).
    End { back_off: bool },
}

/// Decides what follows a stream's tick, and records it in `stream`.
pub(crate) fn judge_tick(stream: &mut StreamTicks, seen: &TickSeen) -> AfterTick {
    stream.ticks = stream.ticks.saturating_add(1);
    if seen.more && !seen.slow {
        return AfterTick::ReadAhead;
    }
    let tick = stream.tick_us;
    // Too thin to go on: the last two longest ticks brought fewer than
    // `STREAM_LEAVE` together, somewhat below the rate that starts a
    // stream (one tick alone may fall between two bursts of a sender on a
    // timer of its own, and the next one bring both). Every tick is
    // recorded, a held one too: skipping those left the lean tick before
    // a run of full ones to pair with the next lean one, which ended a
    // paced 50k/s stream every ~15 ticks (60-80 streams in 3 s, each
    // followed by a read-ahead of the next burst).
    let lean = if tick < TICK_MAX {
        stream.last_long = None;
        false
    } else {
        matches!(stream.last_long.replace(seen.count),
            Some(before) if before + seen.count < STREAM_LEAVE)
    };
    // (A held batch has more than 32 datagrams: the stream goes on.)
    if !seen.held {
        if seen.answered || seen.slow {
            return AfterTick::End { back_off: false };
        }
        if lean {
            return AfterTick::End {
                back_off: stream.ticks <= STREAM_SHORT,
            };
        }
        if seen.count > 0 && !holds_a_stream(seen.rcvbuf, seen.count, seen.bytes) {
            return AfterTick::End { back_off: false };
        }
    }
    // Adapt the tick to the buffer (known: a stream needs its size): fill
    // at most a half, at least an eighth.
    let fill = seen.bytes + seen.count * DATAGRAM_OVERHEAD;
    stream.tick_us = if fill > seen.rcvbuf / 2 {
        (tick / 2).max(TICK_MIN)
    } else if fill < seen.rcvbuf / 8 {
        (tick * 2).min(TICK_MAX)
    } else {
        tick
    };
    if seen.held {
        AfterTick::Hold
    } else {
        AfterTick::Again
    }
}

#[cfg(test)]
mod tests {
    use super::{
        holds_a_stream, is_stream, judge_tick, window_lost, AfterTick, StreamTicks, TickSeen,
        TICK_MAX,
    };
    use std::time::Duration;

    /// Linux's default receive buffer (net.core.rmem_default).
    const DEFAULT_RCVBUF: usize = 212_992;

    /// A tick of a stream of 64-byte datagrams in the default buffer.
    fn seen(count: usize, held: bool) -> TickSeen {
        TickSeen {
            count,
            bytes: count * 64,
            more: false,
            held,
            answered: false,
            slow: false,
            rcvbuf: DEFAULT_RCVBUF,
        }
    }

    /// A stream already at its longest tick, `ticks` ticks old.
    fn long_stream(ticks: u32) -> StreamTicks {
        StreamTicks {
            tick_us: TICK_MAX,
            ticks,
            last_long: None,
        }
    }

    #[test]
    fn two_lean_longest_ticks_in_a_row_end_a_stream() {
        let mut s = long_stream(20);
        assert_eq!(judge_tick(&mut s, &seen(50, false)), AfterTick::Again);
        assert_eq!(judge_tick(&mut s, &seen(3, false)), AfterTick::Again);
        assert_eq!(
            judge_tick(&mut s, &seen(2, false)),
            AfterTick::End { back_off: false }
        );
        // One lean tick between full ones does not.
        let mut s = long_stream(20);
        for count in [50, 0, 50, 0, 50] {
            assert_eq!(judge_tick(&mut s, &seen(count, false)), AfterTick::Again);
        }
    }

    #[test]
    fn held_ticks_count_as_full_ones_between_lean_ticks() {
        // A paced sender's bursts of more than a turn's 32 are held by JS;
        // a lean tick before them and one after are not two in a row.
        let mut s = long_stream(20);
        assert_eq!(judge_tick(&mut s, &seen(3, false)), AfterTick::Again);
        assert_eq!(judge_tick(&mut s, &seen(98, true)), AfterTick::Hold);
        assert_eq!(judge_tick(&mut s, &seen(89, true)), AfterTick::Hold);
        assert_eq!(judge_tick(&mut s, &seen(0, false)), AfterTick::Again);
        assert_eq!(
            judge_tick(&mut s, &seen(2, false)),
            AfterTick::End { back_off: false }
        );
    }

    #[test]
    fn a_stream_that_ends_thin_early_backs_off_and_answers_end_it_at_once() {
        let mut s = StreamTicks::START;
        let mut last = AfterTick::Again;
        for _ in 0..6 {
            last = judge_tick(&mut s, &seen(0, false));
            if last != AfterTick::Again {
                break;
            }
        }
        // Ticks of 250 and 500 µs, then two lean longest ones: the 4th.
        assert_eq!(s.ticks, 4);
        assert_eq!(last, AfterTick::End { back_off: true });
        // An answer ends a stream at once (unless JS holds the batch); more
        // than a tick reads goes to the read-ahead.
        let cases = [
            (false, false, true, AfterTick::End { back_off: false }),
            (true, false, true, AfterTick::Hold),
            (true, true, false, AfterTick::ReadAhead),
        ];
        for (held, more, answered, after) in cases {
            let tick = TickSeen {
                more,
                answered,
                ..seen(50, held)
            };
            assert_eq!(judge_tick(&mut long_stream(20), &tick), after);
        }
    }

    #[test]
    fn a_window_is_given_up_once_it_cannot_be_a_stream_any_more() {
        let ms = |m: f64| Duration::from_secs_f64(m / 1000.0);
        for streak in [16, 32, 4096] {
            let limit = ms(0.25 * f64::from(streak));
            assert!(!window_lost(limit - ms(0.001), streak));
            assert!(window_lost(limit, streak));
            // Given up only where the window's end could not pass either.
            assert!(!is_stream(limit, streak, usize::MAX / 2));
            assert!(is_stream(limit - ms(0.001), streak, 1 << 20));
        }
    }

    #[test]
    fn small_and_mtu_sized_datagrams_may_stream_in_the_default_buffer() {
        assert!(holds_a_stream(DEFAULT_RCVBUF, 32, 32 * 64));
        assert!(holds_a_stream(DEFAULT_RCVBUF, 10, 10 * 1400));
    }

    #[test]
    fn large_datagrams_or_an_unknown_buffer_keep_polling() {
        assert!(!holds_a_stream(DEFAULT_RCVBUF, 13, 13 * 8192));
        assert!(!holds_a_stream(DEFAULT_RCVBUF, 1, 65_507));
        assert!(!holds_a_stream(0, 32, 32 * 64));
        // A larger buffer makes room for a stream of larger datagrams.
        assert!(holds_a_stream(8 * 1024 * 1024, 13, 13 * 8192));
    }

    #[test]
    fn a_stream_is_four_wakeups_and_four_datagrams_a_millisecond_on_average() {
        let ms = |m: f64| Duration::from_secs_f64(m / 1000.0);
        // 16 wake-ups 240 µs apart, one datagram each.
        assert!(is_stream(ms(3.6), 16, 16));
        // A paced sender's bursts: 16 wake-ups over ~3.9 ms, 40 datagrams.
        assert!(is_stream(ms(3.9), 16, 40));
        // Wake-ups 300 µs apart on average: polling costs no more.
        assert!(!is_stream(ms(4.8), 16, 64));
        // Frequent wake-ups that found next to nothing (spurious).
        assert!(!is_stream(ms(2.0), 16, 4));
        assert!(!is_stream(ms(0.0), 16, 0));
        // A longer window after streams that did not pay (`STREAM_SHORT`):
        // the same average gap.
        assert!(is_stream(ms(7.2), 32, 32));
        assert!(!is_stream(ms(9.6), 32, 128));
    }
}
