//! The napi boundary: every function and object JS sees is declared in this folder, over the
//! napi-free modules of the crate. Typed errors become JS errors here, once.

mod analyze;
mod capture;
mod install;
