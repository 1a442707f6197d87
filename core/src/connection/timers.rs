//! The connection's timers, in one small table indexed by what they are
//! for (quinn-proto's arrangement): computing the next deadline is a
//! minimum over the table, and a spurious wake-up finds nothing due.

use crate::time::Timestamp;

use super::TimeoutKind;

/// What a timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The peer's `</stream:stream>` is due.
    Close,
    /// Negotiation must be over by then (which stage: the kind stored
    /// beside it).
    Negotiation,
    /// Nothing sent for a while: a whitespace keepalive is due.
    Keepalive,
    /// Nothing received for a while: a XEP-0199 ping is due.
    Ping,
    /// A ping is out: any input by then, or the peer is gone.
    PingTimeout,
    /// Idle since a while: buffers and queues are given back
    /// (`StreamConfig::release_after`).
    Release,
}

const TIMERS: usize = 6;

fn index(timer: Timer) -> usize {
    match timer {
        Timer::Close => 0,
        Timer::Negotiation => 1,
        Timer::Keepalive => 2,
        Timer::Ping => 3,
        Timer::PingTimeout => 4,
        Timer::Release => 5,
    }
}

const ALL: [Timer; TIMERS] =
    [Timer::Close, Timer::Negotiation, Timer::Keepalive, Timer::Ping, Timer::PingTimeout, Timer::Release];

/// The table.
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    deadlines: [Option<Timestamp>; TIMERS],
    /// What the negotiation deadline ends, for the close reason.
    negotiation: Option<TimeoutKind>,
}

impl Timers {
    pub(crate) fn set(&mut self, timer: Timer, at: Timestamp) {
        self.deadlines[index(timer)] = Some(at);
    }

    pub(crate) fn clear(&mut self, timer: Timer) {
        self.deadlines[index(timer)] = None;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Timestamp> {
        self.deadlines[index(timer)]
    }

    /// Arms the negotiation deadline for `kind` (or clears it).
    pub(crate) fn set_negotiation(&mut self, deadline: Option<(Timestamp, TimeoutKind)>) {
        self.deadlines[index(Timer::Negotiation)] = deadline.map(|(at, _)| at);
        self.negotiation = deadline.map(|(_, kind)| kind);
    }

    pub(crate) fn negotiation_kind(&self) -> TimeoutKind {
        self.negotiation.unwrap_or(TimeoutKind::Negotiation)
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Timestamp> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The timers due at `now`, in table order (the close timer first: a
    /// stream being closed ends on it whatever else is due).
    pub(crate) fn due(&self, now: Timestamp) -> impl Iterator<Item = Timer> + '_ {
        ALL.into_iter().filter(move |t| self.get(*t).is_some_and(|at| at <= now))
    }

    pub(crate) fn clear_all(&mut self) {
        *self = Timers::default();
    }
}
