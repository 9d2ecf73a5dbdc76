//! Detection speed (placeholder until the content bench lands).
fn main() {}
