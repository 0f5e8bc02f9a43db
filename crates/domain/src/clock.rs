//! Time as an injectable source, so tests can move through recovery windows, the 24-hour
//! version rule and day boundaries without waiting.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

pub const SECOND: Millis = 1_000;
pub const HOUR: Millis = 3_600 * SECOND;
pub const DAY: Millis = 24 * HOUR;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Millis;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        jiff::Timestamp::now().as_millisecond()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
    // Serialises `advance` so concurrent test threads see a monotonic sequence.
    step: Mutex<()>,
}

impl ManualClock {
    pub fn new(now: Millis) -> ManualClock {
        ManualClock {
            now: AtomicI64::new(now),
            step: Mutex::new(()),
        }
    }

    pub fn set(&self, now: Millis) {
        self.now.store(now, Ordering::SeqCst);
    }

    pub fn advance(&self, by: Millis) {
        let _guard = self.step.lock().unwrap_or_else(|p| p.into_inner());
        self.now.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.now.load(Ordering::SeqCst)
    }
}

impl<C: Clock> Clock for std::sync::Arc<C> {
    fn now(&self) -> Millis {
        (**self).now()
    }
}

/// 00:00:00 UTC of the day containing `at` (AWS reports access dates at day resolution).
pub fn start_of_day(at: Millis) -> Millis {
    at.div_euclid(DAY) * DAY
}
