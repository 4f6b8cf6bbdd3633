//! Writing a folder of files that dpo-oracle owns (the fixtures, a report) without losing
//! anything of the user's.
//!
//! The promise, for [`write_folder`]`(dir, files, ours)`:
//! - **nothing of the user's is replaced or removed**: every target is read first; a file whose
//!   bytes are not text (UTF-8 without NUL bytes), or whose text `ours(name, text)` does not
//!   recognise, is refused ([`OutputError::NotOurs`]), and so is a symbolic link, a folder or
//!   any other non-file at a target's name, before anything is written;
//! - **nothing is written outside `dir`**: names are relative paths without `..`, and no
//!   symbolic link is followed below `dir`;
//! - **all or nothing, as far as the filesystem allows**: every file is first written to a
//!   temporary file of its own (created exclusively, with a name unique to the run, in the
//!   target's folder) and synced; only when all are written are they renamed over their targets.
//!   On an error before the renames, the run removes the temporary files (and folders) it
//!   created, and nothing else;
//! - **two runs at once do not disturb each other**: each uses its own temporary files, and a
//!   rename replaces a file atomically, so a reader never sees a missing or half-written file.
//!
//! [`compare_folder`] reads a folder and says which files differ from what would be written,
//! writing nothing.

mod compare;
mod plan;
mod write;

use std::fmt;

pub use compare::{compare_folder, Comparison};
pub use plan::{check_folder, Plan, TargetState};
pub use write::{write_folder, Written};

/// A file to write: its name relative to the output folder (`/`-separated, for example
/// `"schema/ipo_test.schema.json"`) and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    /// Relative name.
    pub name: String,
    /// Content.
    pub bytes: Vec<u8>,
}

impl OutputFile {
    /// A file of text.
    pub fn text(name: impl Into<String>, text: impl Into<String>) -> Self {
        OutputFile {
            name: name.into(),
            bytes: text.into().into_bytes(),
        }
    }
}

/// Why a folder was not written (or compared). Every variant names the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputError {
    /// A file name is empty, absolute, holds `..`, `.`, a backslash or a NUL byte.
    BadName {
        /// The name.
        name: String,
    },
    /// A file is there that dpo-oracle did not write (or whose content is not text).
    NotOurs {
        /// The path.
        path: String,
    },
    /// A symbolic link is where a file or folder would be written.
    Symlink {
        /// The path.
        path: String,
    },
    /// A folder or other non-file is where a file would be written.
    NotAFile {
        /// The path.
        path: String,
    },
    /// A file or other non-folder is where a folder is needed.
    NotAFolder {
        /// The path.
        path: String,
    },
    /// The folder to compare with does not exist.
    MissingFolder {
        /// The path.
        path: String,
    },
    /// A file there could not be read, so whose it is cannot be told: refused.
    Unreadable {
        /// The path.
        path: String,
        /// The system's message.
        message: String,
    },
    /// Creating, writing, syncing or renaming failed.
    Io {
        /// The path.
        path: String,
        /// What was being done.
        action: &'static str,
        /// The system's message.
        message: String,
    },
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::BadName { name } => write!(
                f,
                "{name:?}: not a plain relative file name (no '..', '.', absolute path, backslash or NUL)"
            ),
            OutputError::NotOurs { path } => write!(
                f,
                "{path} exists and was not written by dpo-oracle: refusing to overwrite it (move it, or choose another folder); nothing was written"
            ),
            OutputError::Symlink { path } => write!(
                f,
                "{path} is a symbolic link: refusing to write through or replace it; nothing was written"
            ),
            OutputError::NotAFile { path } => write!(
                f,
                "{path} is a folder or special file, not a regular file: refusing to replace it; nothing was written"
            ),
            OutputError::NotAFolder { path } => {
                write!(f, "{path} exists and is not a folder; nothing was written")
            }
            OutputError::MissingFolder { path } => write!(f, "{path}: no such folder"),
            OutputError::Unreadable { path, message } => write!(
                f,
                "{path} exists but cannot be read ({message}): refusing to overwrite it; nothing was written"
            ),
            OutputError::Io {
                path,
                action,
                message,
            } => write!(f, "{path}: cannot {action}: {message}"),
        }
    }
}

impl std::error::Error for OutputError {}

/// Largest existing file read to tell whether it is ours; a larger one is not.
pub const OWN_FILE_LIMIT: u64 = 64 << 20;

fn io_error(path: &std::path::Path, action: &'static str, e: &std::io::Error) -> OutputError {
    OutputError::Io {
        path: path.display().to_string(),
        action,
        message: e.to_string(),
    }
}
