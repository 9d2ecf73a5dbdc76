//! Command-line argument structs (clap derive). Plain data, no I/O.
