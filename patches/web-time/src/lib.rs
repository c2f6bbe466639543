//! meshsim's substitute for the `web-time` crate.
//!
//! [`Instant`] and [`SystemTime`] read meshsim's virtual clock when a
//! simulation is installed on the current thread, and the real clock
//! otherwise. Both are plain values (a [`Duration`] since an origin), so the
//! two modes share one type.

// This crate is the clock itself: off a simulation thread it reads the real
// clock, as the crate it replaces does (the determinism lint does not apply).
#![allow(clippy::disallowed_methods)]

pub use std::time::{Duration, TryFromFloatSecsError};

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::sync::OnceLock;

fn real_base() -> &'static std::time::Instant {
    static BASE: OnceLock<std::time::Instant> = OnceLock::new();
    BASE.get_or_init(std::time::Instant::now)
}

/// A monotonic instant: virtual on a simulation thread, real elsewhere.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Duration);

impl Instant {
    /// The current instant.
    pub fn now() -> Instant {
        match meshsim_clock::now_ns() {
            Some(ns) => Instant(meshsim_clock::INSTANT_OFFSET + Duration::from_nanos(ns)),
            // Real mode: time since the first read in this process, offset like virtual time.
            None => Instant(meshsim_clock::INSTANT_OFFSET + real_base().elapsed()),
        }
    }

    /// Time since `earlier`, zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// Time since `earlier`, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.0.checked_sub(earlier.0)
    }

    /// Time since `earlier`, zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// Time elapsed since this instant.
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// `self + duration`, or `None` on overflow.
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// `self - duration`, or `None` before the origin.
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(duration).map(Instant)
    }

    /// Nanoseconds since the virtual origin (meshsim extension, for traces).
    pub fn as_nanos_since_origin(&self) -> u128 {
        self.0.as_nanos()
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", self.0)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        self.checked_add(rhs)
            .expect("overflow when adding duration to instant")
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        self.checked_sub(rhs)
            .expect("overflow when subtracting duration from instant")
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.duration_since(rhs)
    }
}

/// Wall-clock time: virtual (starting 2024-01-01) on a simulation thread, real elsewhere.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SystemTime(Duration);

/// The Unix epoch.
pub const UNIX_EPOCH: SystemTime = SystemTime(Duration::ZERO);

/// Error returned by [`SystemTime::duration_since`] when the argument is later.
#[derive(Clone, Debug)]
pub struct SystemTimeError(Duration);

impl SystemTimeError {
    /// How far the argument was in the future.
    pub fn duration(&self) -> Duration {
        self.0
    }
}

impl fmt::Display for SystemTimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "second time provided was later than self")
    }
}

impl std::error::Error for SystemTimeError {}

impl SystemTime {
    /// The Unix epoch.
    pub const UNIX_EPOCH: SystemTime = UNIX_EPOCH;

    /// The current time.
    pub fn now() -> SystemTime {
        match meshsim_clock::now_ns() {
            Some(ns) => SystemTime(
                Duration::from_secs(meshsim_clock::SYSTEM_TIME_START_UNIX_SECS)
                    + Duration::from_nanos(ns),
            ),
            None => SystemTime(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default(),
            ),
        }
    }

    /// Time since `earlier`, or an error if `earlier` is later.
    pub fn duration_since(&self, earlier: SystemTime) -> Result<Duration, SystemTimeError> {
        self.0
            .checked_sub(earlier.0)
            .ok_or_else(|| SystemTimeError(earlier.0 - self.0))
    }

    /// Time elapsed since this time.
    pub fn elapsed(&self) -> Result<Duration, SystemTimeError> {
        SystemTime::now().duration_since(*self)
    }

    /// `self + duration`, or `None` on overflow.
    pub fn checked_add(&self, duration: Duration) -> Option<SystemTime> {
        self.0.checked_add(duration).map(SystemTime)
    }

    /// `self - duration`, or `None` before the epoch.
    pub fn checked_sub(&self, duration: Duration) -> Option<SystemTime> {
        self.0.checked_sub(duration).map(SystemTime)
    }
}

impl fmt::Debug for SystemTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SystemTime({:?} since UNIX_EPOCH)", self.0)
    }
}

impl Add<Duration> for SystemTime {
    type Output = SystemTime;
    fn add(self, rhs: Duration) -> SystemTime {
        self.checked_add(rhs)
            .expect("overflow when adding duration to system time")
    }
}

impl AddAssign<Duration> for SystemTime {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for SystemTime {
    type Output = SystemTime;
    fn sub(self, rhs: Duration) -> SystemTime {
        self.checked_sub(rhs)
            .expect("overflow when subtracting duration from system time")
    }
}

impl SubAssign<Duration> for SystemTime {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl From<SystemTime> for std::time::SystemTime {
    fn from(t: SystemTime) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + t.0
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for SystemTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        std::time::SystemTime::from(*self).serialize(s)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for SystemTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = std::time::SystemTime::deserialize(d)?;
        let since = t
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(serde::de::Error::custom)?;
        Ok(SystemTime(since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_time_follows_the_clock() {
        std::thread::spawn(|| {
            meshsim_clock::install();
            let t0 = Instant::now();
            let s0 = SystemTime::now();
            meshsim_clock::advance_to(1_500_000_000);
            assert_eq!(Instant::now() - t0, Duration::from_millis(1500));
            assert_eq!(
                SystemTime::now().duration_since(s0).unwrap(),
                Duration::from_millis(1500)
            );
            assert!(
                t0.checked_sub(Duration::from_secs(3600)).is_some(),
                "no underflow"
            );
            meshsim_clock::uninstall();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn real_time_off_simulation_threads() {
        // No simulation here: time comes from the real monotonic clock.
        let std0 = std::time::Instant::now();
        let t0 = Instant::now();
        while std0.elapsed() < Duration::from_millis(2) {
            std::hint::spin_loop();
        }
        assert!(t0.elapsed() >= Duration::from_millis(1));
        assert!(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
                > 1_600_000_000
        );
    }
}
