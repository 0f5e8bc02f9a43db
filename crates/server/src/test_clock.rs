//! A clock tests can move from outside the process, compiled into debug builds only.
//!
//! Set `COFFER_TEST_CLOCK_FILE` to a file holding a signed offset in milliseconds; the server
//! adds it to the machine's clock and re-reads the file every [`POLL`]. End-to-end tests use it
//! to reach what only time reveals (expired session tokens; later, rotation schedules and
//! recovery windows) without waiting. Release builds have no such hook: their clock is the
//! machine's.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use coffer_domain::clock::Millis;
use coffer_domain::{Clock, SystemClock};

pub const ENV: &str = "COFFER_TEST_CLOCK_FILE";
const POLL: Duration = Duration::from_millis(50);

struct OffsetClock {
    offset: AtomicI64,
}

impl Clock for OffsetClock {
    fn now(&self) -> Millis {
        SystemClock.now() + self.offset.load(Ordering::Relaxed)
    }
}

fn read_offset(path: &PathBuf) -> Millis {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

/// The test clock when `COFFER_TEST_CLOCK_FILE` is set (it must be called inside the runtime).
pub fn from_env() -> Option<Arc<dyn Clock>> {
    let path = PathBuf::from(std::env::var_os(ENV)?);
    let clock = Arc::new(OffsetClock {
        offset: AtomicI64::new(read_offset(&path)),
    });
    tracing::warn!(file = %path.display(), "test clock: time is shifted by the offset in this file");
    let polled = Arc::clone(&clock);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(POLL).await;
            polled.offset.store(read_offset(&path), Ordering::Relaxed);
        }
    });
    Some(clock)
}
