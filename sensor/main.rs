//! `nsm-sensor` binary: parses the command line and maps results to exit codes.
fn main() {}
