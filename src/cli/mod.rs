//! The command line's parts: the flags, the printing, the field → flag
//! table, and one module per command.

mod args;
mod bench;
mod cv;
mod ensemble;
mod eval;
mod export;
mod flags;
mod info;
mod predict;
mod print;
mod progress;
mod search;
mod train;

pub use self::args::{Cli, Command};
pub use self::bench::bench;
pub use self::cv::cv;
pub use self::eval::eval;
pub use self::export::export;
pub use self::flags::{error_text, usage};
pub use self::info::info;
pub use self::predict::predict;
pub use self::search::search;
pub use self::train::{train, Interrupted};
