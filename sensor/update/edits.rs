//! suricata-update's rule edits — `enable.conf`, `disable.conf`, `modify.conf` — applied to
//! rule files' text. Pure: the caller reads and writes the files.

use std::path::Path;

use crate::diag::Diagnostic;

/// One rule file: its name (as in the source, e.g. `rules/emerging-botcc.rules`) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFile {
    pub name: String,
    pub text: String,
}

/// The edits of the three files.
#[derive(Debug, Clone, Default)]
pub struct Edits {}

impl Edits {
    /// Reads the given files.
    ///
    /// # Errors
    /// Every bad line of every file, located `path:line:col`.
    pub fn load(
        enable: Option<&Path>,
        disable: Option<&Path>,
        modify: Option<&Path>,
    ) -> Result<Edits, Vec<Diagnostic>> {
        let _ = (enable, disable, modify);
        Ok(Edits {})
    }
}

/// How many rules each kind of edit changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EditCounts {
    pub enabled: usize,
    pub disabled: usize,
    pub modified: usize,
}

/// Applies the edits to the files' text.
pub fn apply(edits: &Edits, files: &mut [RuleFile]) -> EditCounts {
    let _ = (edits, files);
    EditCounts::default()
}
