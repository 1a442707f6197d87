//! Time as the core sees it: a monotonic timestamp from an arbitrary
//! origin, always passed in by the driver (the core never reads a clock).
//!
//! Embedded executors count ticks since boot; `std` drivers convert from
//! [`std::time::Instant`] with an [`Origin`] (feature `std`).

use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point on the driver's monotonic clock: the time elapsed since an
/// origin the driver chose. Only differences between timestamps of the
/// same driver mean anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(Duration);

impl Timestamp {
    /// The origin itself.
    pub const ZERO: Timestamp = Timestamp(Duration::ZERO);

    /// The timestamp `elapsed` after the origin.
    pub const fn from_elapsed(elapsed: Duration) -> Timestamp {
        Timestamp(elapsed)
    }

    /// The timestamp `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Timestamp {
        Timestamp(Duration::from_millis(millis))
    }

    /// Time since the origin.
    pub const fn elapsed(self) -> Duration {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(self, d: Duration) -> Option<Timestamp> {
        self.0.checked_add(d).map(Timestamp)
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    /// Saturates instead of overflowing: a deadline "never" is still a
    /// deadline.
    fn add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d))
    }
}

impl AddAssign<Duration> for Timestamp {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub for Timestamp {
    type Output = Duration;
    /// Saturates at zero, like [`Timestamp::saturating_duration_since`].
    fn sub(self, earlier: Timestamp) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// Maps [`std::time::Instant`]s onto [`Timestamp`]s: the instant given at
/// construction is the origin. Drivers create one per connection (or per
/// process) and convert each `Instant::now()` they read.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug)]
pub struct Origin(std::time::Instant);

#[cfg(feature = "std")]
impl Origin {
    /// An origin at `instant`.
    pub fn new(instant: std::time::Instant) -> Origin {
        Origin(instant)
    }

    /// The timestamp of `instant` (the origin if `instant` is earlier).
    pub fn timestamp(&self, instant: std::time::Instant) -> Timestamp {
        Timestamp(instant.saturating_duration_since(self.0))
    }

    /// The instant of `timestamp`, for arming a runtime timer. A timestamp
    /// beyond what `Instant` can hold (a saturated "never" deadline) maps
    /// to the farthest instant it can, never less than a century ahead
    /// where the platform allows.
    pub fn instant(&self, timestamp: Timestamp) -> std::time::Instant {
        let mut offset = timestamp.0;
        loop {
            if let Some(at) = self.0.checked_add(offset) {
                return at;
            }
            offset /= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_millis(1500);
        assert_eq!(t + Duration::from_millis(500), Timestamp::from_millis(2000));
        assert_eq!(Timestamp::ZERO - t, Duration::ZERO);
        assert_eq!(t - Timestamp::ZERO, Duration::from_millis(1500));
        assert_eq!(
            Timestamp::from_elapsed(Duration::MAX) + Duration::from_secs(1),
            Timestamp::from_elapsed(Duration::MAX)
        );
        assert_eq!(t.checked_add(Duration::MAX), None);
    }

    #[cfg(feature = "std")]
    #[test]
    // A test may read the clock; the lint guards the core's own code.
    #[allow(clippy::disallowed_methods)]
    fn origin_round_trips_instants() {
        let base = std::time::Instant::now();
        let origin = Origin::new(base);
        let later = base + Duration::from_millis(250);
        assert_eq!(origin.timestamp(later), Timestamp::from_millis(250));
        assert_eq!(origin.instant(Timestamp::from_millis(250)), later);
        assert_eq!(origin.timestamp(base), Timestamp::ZERO);
    }

    /// A deadline "never" (a timeout of `Duration::MAX`, saturated) must
    /// map to some far future instant, not panic in the driver.
    #[cfg(feature = "std")]
    #[test]
    #[allow(clippy::disallowed_methods)]
    fn origin_maps_a_saturated_deadline_to_the_far_future() {
        let base = std::time::Instant::now();
        let origin = Origin::new(base);
        let never = Timestamp::ZERO + Duration::MAX;
        let at = origin.instant(never);
        assert!(at > base + Duration::from_secs(365 * 24 * 3600), "{:?}", at - base);
        assert!(origin.instant(never) >= origin.instant(Timestamp::from_elapsed(Duration::from_secs(1 << 40))));
    }
}
