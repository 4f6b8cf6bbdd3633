//! The guard: what is at each name a run would write, read before anything is written.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{io_error, OutputError, OutputFile, OWN_FILE_LIMIT};

/// What is at a target's name now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetState {
    /// Nothing.
    Absent,
    /// A file dpo-oracle wrote; `same` if its bytes are the ones to write.
    Ours {
        /// Byte-identical to the file to write.
        same: bool,
    },
}

/// The outcome of [`check_folder`]: the folders to create and the state of every target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Folders that do not exist yet, parents first.
    pub folders: Vec<PathBuf>,
    /// Each file's path and what is there now, in the order of the files.
    pub targets: Vec<(PathBuf, TargetState)>,
}

/// Checks, writing nothing, that `files` can be written into `dir` without replacing anything
/// of the user's: every name is a plain relative path; `dir` is a folder or absent; every
/// subfolder is a real folder (not a link) or absent; every target is absent or a regular file
/// whose content is text (UTF-8 without NUL bytes) that `ours(name, text)` recognises as written
/// by dpo-oracle.
/// The first problem found is the error.
pub fn check_folder(
    dir: &Path,
    files: &[OutputFile],
    ours: impl Fn(&str, &str) -> bool,
) -> Result<Plan, OutputError> {
    for f in files {
        check_name(&f.name)?;
    }
    let mut folders = missing_ancestors(dir)?;
    let mut subfolders: Vec<&str> = files
        .iter()
        .flat_map(|f| f.name.match_indices('/').map(|(i, _)| &f.name[..i]))
        .collect();
    subfolders.sort_unstable();
    subfolders.dedup();
    for sub in subfolders {
        let path = dir.join(sub);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => return Err(symlink(&path)),
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(OutputError::NotAFolder {
                    path: path.display().to_string(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => folders.push(path),
            Err(e) => return Err(io_error(&path, "inspect", &e)),
        }
    }
    let targets = files
        .iter()
        .map(|f| {
            let path = dir.join(&f.name);
            target_state(&path, f, &ours).map(|s| (path, s))
        })
        .collect::<Result<_, _>>()?;
    Ok(Plan { folders, targets })
}

/// A name is one or more `/`-separated plain components.
fn check_name(name: &str) -> Result<(), OutputError> {
    let plain = |c: &str| !c.is_empty() && c != "." && c != "..";
    if name.split('/').all(plain) && !name.contains(['\\', '\0']) {
        Ok(())
    } else {
        Err(OutputError::BadName { name: name.into() })
    }
}

/// `dir` and the ancestors of it that do not exist, outermost first; an error if `dir` (or the
/// nearest existing ancestor) is not a folder.
fn missing_ancestors(dir: &Path) -> Result<Vec<PathBuf>, OutputError> {
    let mut missing = Vec::new();
    let mut at = dir;
    loop {
        match std::fs::metadata(at) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => {
                return Err(OutputError::NotAFolder {
                    path: at.display().to_string(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing.push(at.to_path_buf());
                match at.parent() {
                    Some(p) if !p.as_os_str().is_empty() => at = p,
                    _ => break,
                }
            }
            Err(e) => return Err(io_error(at, "inspect", &e)),
        }
    }
    missing.reverse();
    Ok(missing)
}

fn symlink(path: &Path) -> OutputError {
    OutputError::Symlink {
        path: path.display().to_string(),
    }
}

/// What is at `path`, refusing anything that is not absent or ours.
pub(super) fn target_state(
    path: &Path,
    file: &OutputFile,
    ours: impl Fn(&str, &str) -> bool,
) -> Result<TargetState, OutputError> {
    let shown = || path.display().to_string();
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TargetState::Absent),
        Err(e) => Err(io_error(path, "inspect", &e)),
        Ok(m) if m.file_type().is_symlink() => Err(symlink(path)),
        Ok(m) if !m.is_file() => Err(OutputError::NotAFile { path: shown() }),
        Ok(_) => {
            let bytes = read_bounded(path).map_err(|e| OutputError::Unreadable {
                path: shown(),
                message: e.to_string(),
            })?;
            // Text: UTF-8 without NUL bytes (which UTF-16 and binary files hold).
            let is_ours = bytes.len() as u64 <= OWN_FILE_LIMIT
                && !bytes.contains(&0)
                && std::str::from_utf8(&bytes).is_ok_and(|text| ours(&file.name, text));
            if is_ours {
                Ok(TargetState::Ours {
                    same: bytes == file.bytes,
                })
            } else {
                Err(OutputError::NotOurs { path: shown() })
            }
        }
    }
}

/// The file's bytes, at most [`OWN_FILE_LIMIT`] + 1 of them.
pub(super) fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(OWN_FILE_LIMIT + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_plain_relative_paths() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "./a",
            "a//b",
            "a/",
            "a\\b",
            "a\0b",
        ] {
            assert_eq!(
                check_name(bad),
                Err(OutputError::BadName { name: bad.into() }),
                "{bad:?}"
            );
        }
        for good in ["a.json", "schema/a.schema.json", "a/b/c", "..a", "a.."] {
            assert_eq!(check_name(good), Ok(()), "{good:?}");
        }
    }
}
