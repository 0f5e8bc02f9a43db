//! Randomness as an injectable source. Production draws from `rand::rng()` (a ChaCha12
//! generator reseeded from the operating system); tests may pin a seed to make ARN suffixes
//! and passwords reproducible.

use std::convert::Infallible;
use std::sync::{Mutex, MutexGuard};

use rand::rngs::{StdRng, ThreadRng};
use rand::{SeedableRng, TryCryptoRng, TryRng};

pub enum Randomness {
    System,
    Seeded(Mutex<Box<StdRng>>),
}

impl std::fmt::Debug for Randomness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Randomness::System => f.write_str("Randomness::System"),
            Randomness::Seeded(_) => f.write_str("Randomness::Seeded"),
        }
    }
}

impl Randomness {
    pub fn seeded(seed: u64) -> Randomness {
        Randomness::Seeded(Mutex::new(Box::new(StdRng::seed_from_u64(seed))))
    }

    /// A generator for the duration of one call.
    pub fn rng(&self) -> AnyRng<'_> {
        match self {
            Randomness::System => AnyRng::System(rand::rng()),
            Randomness::Seeded(rng) => {
                AnyRng::Seeded(rng.lock().unwrap_or_else(|p| p.into_inner()))
            }
        }
    }
}

pub enum AnyRng<'a> {
    System(ThreadRng),
    Seeded(MutexGuard<'a, Box<StdRng>>),
}

impl TryRng for AnyRng<'_> {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        match self {
            AnyRng::System(rng) => rng.try_next_u32(),
            AnyRng::Seeded(rng) => rng.try_next_u32(),
        }
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        match self {
            AnyRng::System(rng) => rng.try_next_u64(),
            AnyRng::Seeded(rng) => rng.try_next_u64(),
        }
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        match self {
            AnyRng::System(rng) => rng.try_fill_bytes(dst),
            AnyRng::Seeded(rng) => rng.try_fill_bytes(dst),
        }
    }
}

// Both variants are cryptographically secure generators (StdRng is ChaCha12).
impl TryCryptoRng for AnyRng<'_> {}
