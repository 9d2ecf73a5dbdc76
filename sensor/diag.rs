//! Diagnostics: one problem in a rule, configuration or table file, located as
//! `path:line:col`. A leaf of the module chain: the configuration and the rule loader both
//! report through it, and neither needs the other for that.

use std::fmt;
use std::path::PathBuf;

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.col,
            self.message
        )
    }
}
