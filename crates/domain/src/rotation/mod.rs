//! Secret rotation: when a secret rotates and, later, how a rotation runs. `schedule` turns
//! AWS's `RotationRules` into rotation windows; it is pure (no store, no clock, no randomness
//! of its own) so the rules can be checked against fixed instants and seeded generators.

pub mod schedule;
