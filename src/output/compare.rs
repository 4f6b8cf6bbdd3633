//! Comparing a folder with the files a run would write, writing nothing.

use std::path::Path;

use super::plan::read_bounded;
use super::{io_error, OutputError, OutputFile};

/// Which files of a folder equal the ones a run would write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Byte-identical.
    pub same: Vec<String>,
    /// There, but with other bytes (or not a regular file).
    pub differ: Vec<String>,
    /// Not there.
    pub missing: Vec<String>,
}

impl Comparison {
    /// Every file is there, byte-identical.
    pub fn identical(&self) -> bool {
        self.differ.is_empty() && self.missing.is_empty()
    }
}

/// Compares every file of `files` with the file of that name under `dir`, byte for byte.
/// [`OutputError::MissingFolder`] if `dir` does not exist; a file that exists but cannot be
/// read is [`OutputError::Unreadable`].
pub fn compare_folder(dir: &Path, files: &[OutputFile]) -> Result<Comparison, OutputError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(OutputError::NotAFolder {
                path: dir.display().to_string(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(OutputError::MissingFolder {
                path: dir.display().to_string(),
            })
        }
        Err(e) => return Err(io_error(dir, "inspect", &e)),
    }
    let mut c = Comparison::default();
    for f in files {
        let path = dir.join(&f.name);
        let name = f.name.clone();
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => c.missing.push(name),
            Err(e) => return Err(io_error(&path, "inspect", &e)),
            Ok(m) if !m.is_file() => c.differ.push(name),
            Ok(_) => {
                let bytes = read_bounded(&path).map_err(|e| OutputError::Unreadable {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                if bytes == f.bytes {
                    c.same.push(name);
                } else {
                    c.differ.push(name);
                }
            }
        }
    }
    Ok(c)
}
