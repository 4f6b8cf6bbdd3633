//! Writing `frontier.csv` and `frontier.svg` into a folder, safely: the folder is checked
//! before anything is written; a file of the same name that `dpo-oracle` did not write (its
//! first line lacks the crate's mark) or a symbolic link is refused; each file is written to a
//! temporary name and renamed into place.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{csv, svg, FrontierReport};

/// The files a run writes, with the mark their first line starts with.
pub const FILES: [(&str, &str); 2] = [
    ("frontier.csv", csv::HEADER_MARK),
    ("frontier.svg", svg::HEADER_MARK),
];

/// Why the output folder cannot take the files.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputError {
    /// The path exists and is not a folder.
    NotAFolder(PathBuf),
    /// The folder could not be created or a file could not be written.
    Unwritable {
        /// The path.
        path: PathBuf,
        /// The system's message.
        message: String,
    },
    /// A file of the same name is there and was not written by dpo-oracle.
    WouldOverwrite(PathBuf),
    /// A file of the same name is a symbolic link.
    Symlink(PathBuf),
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAFolder(p) => write!(f, "--out {}: exists and is not a folder", p.display()),
            Self::Unwritable { path, message } => {
                write!(f, "--out {}: cannot write: {message}", path.display())
            }
            Self::WouldOverwrite(p) => write!(
                f,
                "{} exists and was not written by dpo-oracle: refusing to overwrite it (move it, or choose another folder)",
                p.display()
            ),
            Self::Symlink(p) => write!(
                f,
                "{} is a symbolic link: refusing to write through it",
                p.display()
            ),
        }
    }
}

impl std::error::Error for OutputError {}

/// Whether the file at `path` starts with `mark`.
fn starts_with_mark(path: &Path, mark: &str) -> bool {
    let mut head = vec![0; mark.len()];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head == mark.as_bytes()
}

/// Checks, without writing anything, that `dir` can take the files: it is a folder (or does not
/// exist yet), and each file of the same name there is a regular file dpo-oracle wrote.
///
/// # Errors
/// The first problem found.
pub fn check(dir: &Path) -> Result<(), OutputError> {
    match fs::symlink_metadata(dir) {
        Ok(m) if !m.is_dir() && !fs::metadata(dir).is_ok_and(|m| m.is_dir()) => {
            return Err(OutputError::NotAFolder(dir.to_path_buf()))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return check_ancestor(dir),
        Err(e) => {
            check_ancestor(dir)?;
            return Err(OutputError::Unwritable {
                path: dir.to_path_buf(),
                message: e.to_string(),
            });
        }
    }
    for (name, mark) in FILES {
        let path = dir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => return Err(OutputError::Symlink(path)),
            Ok(m) if !m.is_file() || !starts_with_mark(&path, mark) => {
                return Err(OutputError::WouldOverwrite(path))
            }
            _ => {}
        }
    }
    Ok(())
}

/// For a folder still to be created: its nearest existing ancestor must be a folder that is
/// not read-only.
fn check_ancestor(dir: &Path) -> Result<(), OutputError> {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    for ancestor in absolute.ancestors().skip(1) {
        if let Ok(m) = fs::metadata(ancestor) {
            if !m.is_dir() {
                return Err(OutputError::NotAFolder(ancestor.to_path_buf()));
            }
            if m.permissions().readonly() {
                return Err(OutputError::Unwritable {
                    path: dir.to_path_buf(),
                    message: format!("{} is read-only", ancestor.display()),
                });
            }
            return Ok(());
        }
    }
    Ok(())
}

/// Writes `frontier.csv` and `frontier.svg` into `dir` (created if missing) after [`check`];
/// returns their paths.
///
/// # Errors
/// What [`check`] finds, or [`OutputError::Unwritable`].
pub fn write(dir: &Path, report: &FrontierReport) -> Result<Vec<PathBuf>, OutputError> {
    check(dir)?;
    let unwritable = |path: &Path, e: std::io::Error| OutputError::Unwritable {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    fs::create_dir_all(dir).map_err(|e| unwritable(dir, e))?;
    let contents = [report.to_csv(), report.to_svg()];
    let mut written = Vec::new();
    for ((name, _), text) in FILES.iter().zip(contents) {
        let path = dir.join(name);
        let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        fs::write(&temp, text).map_err(|e| unwritable(&temp, e))?;
        if let Err(e) = fs::rename(&temp, &path) {
            let _ = fs::remove_file(&temp);
            return Err(unwritable(&path, e));
        }
        written.push(path);
    }
    Ok(written)
}
