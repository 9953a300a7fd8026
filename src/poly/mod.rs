//! Exact polynomial algebra over the rationals.

pub mod roots;
